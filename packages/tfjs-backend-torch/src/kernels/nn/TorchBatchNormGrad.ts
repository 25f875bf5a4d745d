/**
 * TorchBatchNormGrad (this backend only): the FusedBatchNorm gradient in one native pass of
 * `native_batch_norm_backward` (inference mode: mean and variance are inputs, exactly as in
 * tfjs's gradient formula). Outputs [dx, dScale, dOffset]; dScale = sum(dy*(x-mean))*rsqrt(var+eps)
 * and dOffset = sum(dy), summed over every axis but the last. The mean/variance gradients are
 * per-channel expressions of these two (gradients.ts). Requires rank-1 per-channel parameters.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { TorchBackend } from '../../backend.js';
import { nativeKernel, callMulti } from '../../kernel_util.js';
import { maybeHandle } from './native-args.js';

export const TorchBatchNormGrad = 'TorchBatchNormGrad';

export interface TorchBatchNormGradInputs {
  dy: TensorInfo; x: TensorInfo; mean: TensorInfo; variance: TensorInfo; scale?: TensorInfo;
}

export function torchBatchNormGrad(args: {
  inputs: TorchBatchNormGradInputs; backend: TorchBackend; attrs: { varianceEpsilon: number };
}): TensorInfo[] {
  const { inputs, backend, attrs } = args;
  const outs = callMulti(backend, 'nnBatchNormGrad', backend.handle(inputs.dy), backend.handle(inputs.x),
    backend.handle(inputs.mean), backend.handle(inputs.variance), maybeHandle(backend, inputs.scale),
    attrs.varianceEpsilon);
  return backend.fromNativeList(outs);
}

export const torchBatchNormGradConfig = nativeKernel(TorchBatchNormGrad, torchBatchNormGrad);
