/**
 * BatchMatMul: `at::matmul` with optional transposes of the last two axes; batch axes broadcast
 * (numpy rules in both libraries). Float matmul runs on the BLAS libtorch was linked against
 * (guide §9: install libopenblas0-openmp, or Debian's reference BLAS makes this ~8x slower).
 */
import { BatchMatMul } from '@tensorflow/tfjs-core';
import type { BatchMatMulAttrs, BatchMatMulInputs, TensorInfo } from '@tensorflow/tfjs-core';
import type { TorchBackend } from '../../backend.js';
import { nativeKernel, run } from '../../kernel_util.js';
import { ACTIVATION_LINEAR } from './native-args.js';

export function batchMatMul(args: { inputs: BatchMatMulInputs; backend: TorchBackend; attrs: BatchMatMulAttrs }): TensorInfo {
  const { inputs, backend, attrs } = args;
  const a = inputs.a as TensorInfo;
  const b = inputs.b as TensorInfo;
  if (a.shape.length < 2 || b.shape.length < 2) {
    // tfjs's kernels require matrices; ATen would silently treat a vector as one.
    throw new Error(`BatchMatMul: both operands must have rank >= 2, got shapes [${a.shape}] and [${b.shape}]`);
  }
  return run(backend, 'nnMatMul', backend.handle(a), backend.handle(b), attrs.transposeA,
    attrs.transposeB, -1, -1, ACTIVATION_LINEAR, 0);
}

export const batchMatMulConfig = nativeKernel(BatchMatMul, batchMatMul);
