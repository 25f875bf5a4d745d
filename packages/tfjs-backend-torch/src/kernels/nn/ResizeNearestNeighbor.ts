/**
 * ResizeNearestNeighbor: two `index_select`s with tfjs's source indices (floor, or round with
 * alignCorners; half-pixel centers clamp at 0). Keeps the input dtype, as tfjs does.
 */
import { ResizeNearestNeighbor } from '@tensorflow/tfjs-core';
import type { ResizeNearestNeighborAttrs, ResizeNearestNeighborInputs, TensorInfo } from '@tensorflow/tfjs-core';
import { handle, nn, nnKernel, result, type TorchBackendLike } from './util.js';

export function resizeNearestNeighbor(args: {
  inputs: ResizeNearestNeighborInputs; backend: TorchBackendLike; attrs: ResizeNearestNeighborAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  const [newH, newW] = attrs.size;
  return result(backend, nn(backend).nnResizeNearest(handle(backend, inputs.images as TensorInfo), newH, newW,
    attrs.alignCorners, attrs.halfPixelCenters));
}

export const resizeNearestNeighborConfig = nnKernel(ResizeNearestNeighbor, resizeNearestNeighbor);
