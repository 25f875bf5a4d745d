/**
 * Sum: int32/bool sum to int32 (ATen would give int64).
 *
 * A float32 sum over every axis but the last is deferred (TorchBackend.deferred): that is how tfjs's
 * fused conv2d and matMul gradients make the bias gradient, which they always return and which a
 * gradient attack (w.r.t. the input only) disposes unread, as it does the filter gradient
 * (Conv2DBackpropFilter.ts). The retained input is the same dy the deferred filter gradient already
 * keeps alive, so deferring adds no memory there. TFJS_TORCH_DEFER_BIAS_GRAD=0 sums eagerly.
 */
import { Sum } from '@tensorflow/tfjs-core';
import type { SumAttrs, TensorInfo } from '@tensorflow/tfjs-core';

import type { TorchBackend } from '../../backend.js';
import { call, nativeKernel, run } from '../../kernel_util.js';
import { REDUCE } from './ops.js';
import { reductionAxes } from './reduce.js';

const defer = process.env.TFJS_TORCH_DEFER_BIAS_GRAD !== '0';

/** Whether `axes` are exactly 0 … rank-2 (every axis but the last, as a bias gradient reduces). */
function allButLast(axes: readonly number[], rank: number): boolean {
  if (rank < 2 || axes.length !== rank - 1) return false;
  return [...axes].sort((a, b) => a - b).every((a, i) => a === i);
}

export const sumConfig = nativeKernel(Sum, ({ inputs, attrs, backend: b }) => {
  const backend = b as TorchBackend;
  const x = inputs.x as TensorInfo;
  const { axis, keepDims } = attrs as unknown as SumAttrs;
  const axes = reductionAxes(axis, x.shape);
  if (defer && !keepDims && x.dtype === 'float32' && allButLast(axes, x.shape.length)) {
    const shape = [x.shape[x.shape.length - 1]!];
    return backend.deferred(shape, 'float32', [x], ([h]) => call(backend, 'reduce', REDUCE.Sum, h!, axes, false));
  }
  return run(backend, 'reduce', REDUCE.Sum, backend.handle(x), axes, Boolean(keepDims));
});
