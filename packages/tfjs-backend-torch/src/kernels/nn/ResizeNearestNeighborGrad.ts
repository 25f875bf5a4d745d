/**
 * ResizeNearestNeighborGrad: `index_add` of dy into the pixels they were copied from. Like tfjs's
 * cpu kernel (parity), the source mapping ignores the halfPixelCenters attribute.
 */
import { ResizeNearestNeighborGrad } from '@tensorflow/tfjs-core';
import type {
  ResizeNearestNeighborGradAttrs, ResizeNearestNeighborGradInputs, TensorInfo,
} from '@tensorflow/tfjs-core';
import { handle, nn, nnKernel, result, type TorchBackendLike } from './util.js';

export function resizeNearestNeighborGrad(args: {
  inputs: ResizeNearestNeighborGradInputs; backend: TorchBackendLike; attrs: ResizeNearestNeighborGradAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  return result(backend, nn(backend).nnResizeNearestGrad(handle(backend, inputs.dy as TensorInfo),
    handle(backend, inputs.images as TensorInfo), attrs.alignCorners));
}

export const resizeNearestNeighborGradConfig = nnKernel(ResizeNearestNeighborGrad, resizeNearestNeighborGrad);
