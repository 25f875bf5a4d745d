/**
 * AvgPoolGrad: `avg_pool2d_backward`. Like tfjs's own AvgPoolGrad kernels, each window's dy is spread
 * with weight 1/(kh*kw) even where the forward divided by a smaller valid count (parity, see ops_pool.cc).
 */
import { AvgPoolGrad, backend_util } from '@tensorflow/tfjs-core';
import type { AvgPoolGradAttrs, AvgPoolGradInputs, TensorInfo } from '@tensorflow/tfjs-core';
import type { TorchBackend } from '../../backend.js';
import { nativeKernel, run } from '../../kernel_util.js';
import { padList } from './native-args.js';

export function avgPoolGrad(args: { inputs: AvgPoolGradInputs; backend: TorchBackend; attrs: AvgPoolGradAttrs }): TensorInfo {
  const { inputs, backend, attrs } = args;
  const dy = inputs.dy as TensorInfo;
  const input = inputs.input as TensorInfo;
  const { filterSize, strides, pad } = attrs;
  const info = backend_util.computePool2DInfo(input.shape as [number, number, number, number], filterSize, strides,
    1, pad);
  return run(backend, 'nnAvgPoolGrad', backend.handle(dy), backend.handle(input),
    [info.filterHeight, info.filterWidth], [info.strideHeight, info.strideWidth], padList(info));
}

export const avgPoolGradConfig = nativeKernel(AvgPoolGrad, avgPoolGrad);
