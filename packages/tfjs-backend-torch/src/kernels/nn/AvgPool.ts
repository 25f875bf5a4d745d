/**
 * AvgPool: `at::avg_pool2d` with count_include_pad=false, so that, as in tfjs, each window is
 * divided by its number of valid (non-padding) taps. Windows come from `computePool2DInfo`;
 * asymmetric padding uses explicit per-window counts (ops_pool.cc).
 */
import { backend_util, util, AvgPool } from '@tensorflow/tfjs-core';
import type { AvgPoolAttrs, AvgPoolInputs, TensorInfo } from '@tensorflow/tfjs-core';
import type { TorchBackend } from '../../backend.js';
import { nativeKernel, run } from '../../kernel_util.js';
import { padList } from './native-args.js';

export function avgPool(args: { inputs: AvgPoolInputs; backend: TorchBackend; attrs: AvgPoolAttrs }): TensorInfo {
  const { inputs, backend, attrs } = args;
  const x = inputs.x as TensorInfo;
  const { filterSize, strides, pad, dimRoundingMode } = attrs;
  const info = backend_util.computePool2DInfo(x.shape as [number, number, number, number], filterSize, strides, 1,
    pad, dimRoundingMode);
  // As tfjs's cpu kernel: a 1x1 window that keeps the shape is the identity, whatever the padding
  // says (tf.pool relies on it for fractional outputs).
  if (info.filterHeight === 1 && info.filterWidth === 1 && util.arraysEqual(info.inShape, info.outShape)) {
    return backend.alias(x);
  }
  return run(backend, 'nnAvgPool', backend.handle(x), [info.filterHeight, info.filterWidth],
    [info.strideHeight, info.strideWidth], padList(info), [info.outHeight, info.outWidth]);
}

export const avgPoolConfig = nativeKernel(AvgPool, avgPool);
