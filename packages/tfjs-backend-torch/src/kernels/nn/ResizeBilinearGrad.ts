/**
 * ResizeBilinearGrad: the transposed interpolation matrices applied to dy. tfjs's cpu kernel maps
 * coordinates without half-pixel centers even when the forward used them (it ignores that
 * attribute); we keep that behaviour for parity. It is the exact adjoint in the other two modes.
 */
import { ResizeBilinearGrad } from '@tensorflow/tfjs-core';
import type { ResizeBilinearGradAttrs, ResizeBilinearGradInputs, TensorInfo } from '@tensorflow/tfjs-core';
import { handle, nn, nnKernel, result, type TorchBackendLike } from './util.js';

export function resizeBilinearGrad(args: {
  inputs: ResizeBilinearGradInputs; backend: TorchBackendLike; attrs: ResizeBilinearGradAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  return result(backend, nn(backend).nnResizeBilinearGrad(handle(backend, inputs.dy as TensorInfo),
    handle(backend, inputs.images as TensorInfo), attrs.alignCorners));
}

export const resizeBilinearGradConfig = nnKernel(ResizeBilinearGrad, resizeBilinearGrad);
