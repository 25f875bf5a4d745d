/**
 * _FusedMatMul: matmul + bias + activation in one native call (`addmm` for 2-D with a vector
 * bias). tfjs dispatches it outside a gradient tape only (tfjs-layers Dense in predict).
 */
import { _FusedMatMul } from '@tensorflow/tfjs-core';
import type { _FusedMatMulAttrs, _FusedMatMulInputs, TensorInfo } from '@tensorflow/tfjs-core';
import { activationCode, handle, nnKernel, maybeHandle, nn, result, type TorchBackendLike } from './util.js';

export function fusedMatMul(args: { inputs: _FusedMatMulInputs; backend: TorchBackendLike; attrs: _FusedMatMulAttrs }): TensorInfo {
  const { inputs, backend, attrs } = args;
  const a = inputs.a as TensorInfo;
  const b = inputs.b as TensorInfo;
  return result(backend, nn(backend).nnMatMul(handle(backend, a), handle(backend, b), attrs.transposeA,
    attrs.transposeB, maybeHandle(backend, inputs.bias as TensorInfo | undefined),
    maybeHandle(backend, inputs.preluActivationWeights as TensorInfo | undefined),
    activationCode(attrs.activation), attrs.leakyreluAlpha ?? 0.2));
}

export const fusedMatMulConfig = nnKernel(_FusedMatMul, fusedMatMul);
