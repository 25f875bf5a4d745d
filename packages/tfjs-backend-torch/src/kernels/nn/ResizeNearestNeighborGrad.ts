/**
 * ResizeNearestNeighborGrad: `index_add` of dy into the pixels they were copied from. Like tfjs's
 * cpu kernel (parity), the source mapping ignores the halfPixelCenters attribute.
 */
import { ResizeNearestNeighborGrad } from '@tensorflow/tfjs-core';
import type {
  ResizeNearestNeighborGradAttrs, ResizeNearestNeighborGradInputs, TensorInfo,
} from '@tensorflow/tfjs-core';
import type { TorchBackend } from '../../backend.js';
import { nativeKernel, run } from '../../kernel_util.js';

export function resizeNearestNeighborGrad(args: {
  inputs: ResizeNearestNeighborGradInputs; backend: TorchBackend; attrs: ResizeNearestNeighborGradAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  return run(backend, 'nnResizeNearestGrad', backend.handle(inputs.dy as TensorInfo),
    backend.handle(inputs.images as TensorInfo), attrs.alignCorners);
}

export const resizeNearestNeighborGradConfig = nativeKernel(ResizeNearestNeighborGrad, resizeNearestNeighborGrad);
