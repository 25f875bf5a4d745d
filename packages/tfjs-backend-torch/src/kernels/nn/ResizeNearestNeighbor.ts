/**
 * ResizeNearestNeighbor: two `index_select`s with tfjs's source indices (floor, or round with
 * alignCorners; half-pixel centers clamp at 0). Keeps the input dtype, as tfjs does.
 */
import { ResizeNearestNeighbor } from '@tensorflow/tfjs-core';
import type { ResizeNearestNeighborAttrs, ResizeNearestNeighborInputs, TensorInfo } from '@tensorflow/tfjs-core';
import type { TorchBackend } from '../../backend.js';
import { nativeKernel, run } from '../../kernel_util.js';

export function resizeNearestNeighbor(args: {
  inputs: ResizeNearestNeighborInputs; backend: TorchBackend; attrs: ResizeNearestNeighborAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  const [newH, newW] = attrs.size;
  return run(backend, 'nnResizeNearest', backend.handle(inputs.images as TensorInfo), newH, newW,
    attrs.alignCorners, attrs.halfPixelCenters);
}

export const resizeNearestNeighborConfig = nativeKernel(ResizeNearestNeighbor, resizeNearestNeighbor);
