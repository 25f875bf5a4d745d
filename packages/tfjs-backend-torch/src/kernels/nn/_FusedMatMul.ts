/**
 * _FusedMatMul: matmul + bias + activation in one native call (`addmm` for 2-D with a vector
 * bias). tfjs dispatches it outside a gradient tape only (tfjs-layers Dense in predict).
 */
import { _FusedMatMul } from '@tensorflow/tfjs-core';
import type { _FusedMatMulAttrs, _FusedMatMulInputs, TensorInfo } from '@tensorflow/tfjs-core';
import type { TorchBackend } from '../../backend.js';
import { nativeKernel, run } from '../../kernel_util.js';
import { activationCode, maybeHandle } from './native-args.js';

export function fusedMatMul(args: { inputs: _FusedMatMulInputs; backend: TorchBackend; attrs: _FusedMatMulAttrs }): TensorInfo {
  const { inputs, backend, attrs } = args;
  const a = inputs.a as TensorInfo;
  const b = inputs.b as TensorInfo;
  return run(backend, 'nnMatMul', backend.handle(a), backend.handle(b), attrs.transposeA,
    attrs.transposeB, maybeHandle(backend, inputs.bias as TensorInfo | undefined),
    maybeHandle(backend, inputs.preluActivationWeights as TensorInfo | undefined),
    activationCode(attrs.activation), attrs.leakyreluAlpha ?? 0.2);
}

export const fusedMatMulConfig = nativeKernel(_FusedMatMul, fusedMatMul);
