/**
 * ResizeBilinear in all three tfjs coordinate modes. tfjs's legacy mode (alignCorners=false,
 * halfPixelCenters=false: UpSampling2D's default) matches no ATen mode (guide §4.2), so the native
 * op applies separable interpolation matrices built exactly as tfjs maps coordinates.
 */
import { ResizeBilinear } from '@tensorflow/tfjs-core';
import type { ResizeBilinearAttrs, ResizeBilinearInputs, TensorInfo } from '@tensorflow/tfjs-core';
import type { TorchBackend } from '../../backend.js';
import { nativeKernel, run } from '../../kernel_util.js';

export function resizeBilinear(args: { inputs: ResizeBilinearInputs; backend: TorchBackend; attrs: ResizeBilinearAttrs }): TensorInfo {
  const { inputs, backend, attrs } = args;
  const images = inputs.images as TensorInfo;
  const [newH, newW] = attrs.size;
  return run(backend, 'nnResizeBilinear', backend.handle(images), newH, newW, attrs.alignCorners,
    attrs.halfPixelCenters);
}

export const resizeBilinearConfig = nativeKernel(ResizeBilinear, resizeBilinear);
