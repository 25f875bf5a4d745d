/**
 * MaxPoolGrad: routes dy to each window's argmax (`max_pool2d_with_indices_backward`); positions
 * are recomputed from the input, ties go to the first tap in row-major order as in tfjs.
 */
import { backend_util, MaxPoolGrad } from '@tensorflow/tfjs-core';
import type { MaxPoolGradAttrs, MaxPoolGradInputs, TensorInfo } from '@tensorflow/tfjs-core';
import type { TorchBackend } from '../../backend.js';
import { nativeKernel, run } from '../../kernel_util.js';
import { padList } from './native-args.js';

export function maxPoolGrad(args: { inputs: MaxPoolGradInputs; backend: TorchBackend; attrs: MaxPoolGradAttrs }): TensorInfo {
  const { inputs, backend, attrs } = args;
  const dy = inputs.dy as TensorInfo;
  const input = inputs.input as TensorInfo;
  const { filterSize, strides, pad, dimRoundingMode } = attrs;
  const info = backend_util.computePool2DInfo(input.shape as [number, number, number, number], filterSize, strides,
    1, pad, dimRoundingMode);
  return run(backend, 'nnMaxPoolGrad', backend.handle(dy), backend.handle(input),
    [info.filterHeight, info.filterWidth], [info.strideHeight, info.strideWidth], padList(info));
}

export const maxPoolGradConfig = nativeKernel(MaxPoolGrad, maxPoolGrad);
