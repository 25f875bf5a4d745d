/**
 * Cast: an alias when the dtype is unchanged (float32->float32 is one of the most frequent kernels of
 * a training step, guide §3), otherwise ATen's `to()` with JS semantics (NaN -> 0 for ints, x != 0
 * for bool) in native/ops_elementwise.cc.
 */
import { Cast, CastAttrs, TensorInfo } from '@tensorflow/tfjs-core';

import { DTYPE_CODE } from '../../native.js';
import { nativeKernel, run } from '../../kernel_util.js';
import { runOnCpu } from '../../fallback.js';

export const castConfig = nativeKernel(Cast, ({ inputs, attrs, backend }) => {
  const x = inputs.x as TensorInfo;
  const { dtype } = attrs as unknown as CastAttrs;
  if (dtype === x.dtype) return backend.alias(x);
  if (!(dtype in DTYPE_CODE)) return runOnCpu(Cast, inputs, attrs, backend); // e.g. to complex64
  return run(backend, 'cast', backend.handle(x), DTYPE_CODE[dtype as keyof typeof DTYPE_CODE]);
});
