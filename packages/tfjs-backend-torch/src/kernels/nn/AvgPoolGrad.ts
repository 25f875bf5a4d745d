/**
 * AvgPoolGrad: `avg_pool2d_backward`. Like tfjs's own AvgPoolGrad kernels, each window's dy is spread
 * with weight 1/(kh*kw) even where the forward divided by a smaller valid count (parity, see ops_pool.cc).
 */
import { AvgPoolGrad, backend_util } from '@tensorflow/tfjs-core';
import type { AvgPoolGradAttrs, AvgPoolGradInputs, TensorInfo } from '@tensorflow/tfjs-core';
import { handle, nn, nnKernel, padList, result, type TorchBackendLike } from './util.js';

export function avgPoolGrad(args: { inputs: AvgPoolGradInputs; backend: TorchBackendLike; attrs: AvgPoolGradAttrs }): TensorInfo {
  const { inputs, backend, attrs } = args;
  const dy = inputs.dy as TensorInfo;
  const input = inputs.input as TensorInfo;
  const { filterSize, strides, pad } = attrs;
  const info = backend_util.computePool2DInfo(input.shape as [number, number, number, number], filterSize, strides,
    1, pad);
  return result(backend, nn(backend).nnAvgPoolGrad(handle(backend, dy), handle(backend, input),
    [info.filterHeight, info.filterWidth], [info.strideHeight, info.strideWidth], padList(info)));
}

export const avgPoolGradConfig = nnKernel(AvgPoolGrad, avgPoolGrad);
