/**
 * TorchBatchNormGrad (this backend only): the FusedBatchNorm gradient in one native pass of
 * `native_batch_norm_backward` (inference mode: mean and variance are inputs, exactly as in
 * tfjs's gradient formula). Outputs [dx, dScale, dOffset]; dScale = sum(dy*(x-mean))*rsqrt(var+eps)
 * and dOffset = sum(dy), summed over every axis but the last. The mean/variance gradients are
 * per-channel expressions of these two (gradients.ts). Requires rank-1 per-channel parameters.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { handle, maybeHandle, nn, nnKernel, result, type TorchBackendLike } from './util.js';

export const TorchBatchNormGrad = 'TorchBatchNormGrad';

export interface TorchBatchNormGradInputs {
  dy: TensorInfo; x: TensorInfo; mean: TensorInfo; variance: TensorInfo; scale?: TensorInfo;
}

export function torchBatchNormGrad(args: {
  inputs: TorchBatchNormGradInputs; backend: TorchBackendLike; attrs: { varianceEpsilon: number };
}): TensorInfo[] {
  const { inputs, backend, attrs } = args;
  const outs = nn(backend).nnBatchNormGrad(handle(backend, inputs.dy), handle(backend, inputs.x),
    handle(backend, inputs.mean), handle(backend, inputs.variance), maybeHandle(backend, inputs.scale),
    attrs.varianceEpsilon);
  return outs.map((r) => result(backend, r));
}

export const torchBatchNormGradConfig = nnKernel(TorchBatchNormGrad, torchBatchNormGrad);
