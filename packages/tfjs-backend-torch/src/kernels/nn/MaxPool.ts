/**
 * MaxPool: `at::max_pool2d` on the channels_last view of the NHWC input. Windows come from
 * `computePool2DInfo`; asymmetric or oversized padding is pre-padded natively with -inf, so a
 * padding tap never wins (ops_pool.cc).
 */
import { backend_util, util, MaxPool } from '@tensorflow/tfjs-core';
import type { MaxPoolAttrs, MaxPoolInputs, TensorInfo } from '@tensorflow/tfjs-core';
import type { TorchBackend } from '../../backend.js';
import { nativeKernel, run } from '../../kernel_util.js';
import { padList } from './native-args.js';

export function maxPool(args: { inputs: MaxPoolInputs; backend: TorchBackend; attrs: MaxPoolAttrs }): TensorInfo {
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
  return run(backend, 'nnMaxPool', backend.handle(x), [info.filterHeight, info.filterWidth],
    [info.strideHeight, info.strideWidth], padList(info), [info.outHeight, info.outWidth]);
}

export const maxPoolConfig = nativeKernel(MaxPool, maxPool);
