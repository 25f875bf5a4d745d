/**
 * ResizeBilinearGrad: the transposed interpolation matrices applied to dy. tfjs's cpu kernel maps
 * coordinates without half-pixel centers even when the forward used them (it ignores that
 * attribute); we keep that behaviour for parity. It is the exact adjoint in the other two modes.
 */
import { ResizeBilinearGrad } from '@tensorflow/tfjs-core';
import type { ResizeBilinearGradAttrs, ResizeBilinearGradInputs, TensorInfo } from '@tensorflow/tfjs-core';
import type { TorchBackend } from '../../backend.js';
import { nativeKernel, run } from '../../kernel_util.js';

export function resizeBilinearGrad(args: {
  inputs: ResizeBilinearGradInputs; backend: TorchBackend; attrs: ResizeBilinearGradAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  return run(backend, 'nnResizeBilinearGrad', backend.handle(inputs.dy as TensorInfo),
    backend.handle(inputs.images as TensorInfo), attrs.alignCorners);
}

export const resizeBilinearGradConfig = nativeKernel(ResizeBilinearGrad, resizeBilinearGrad);
