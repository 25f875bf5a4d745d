/**
 * FusedBatchNorm: (x - mean) * scale * rsqrt(variance + eps) + offset. With per-channel (rank-1)
 * parameters this is ATen's inference-mode `batch_norm` on the channels_last view (one pass);
 * other broadcastable parameter shapes use the same formula element-wise.
 * Training-mode BN in tfjs computes the batch moments with separate ops and passes them in as
 * `mean`/`variance`, so this kernel never normalises with statistics of its own.
 */
import { FusedBatchNorm } from '@tensorflow/tfjs-core';
import type { FusedBatchNormAttrs, FusedBatchNormInputs, TensorInfo } from '@tensorflow/tfjs-core';
import { ensureTorchGradients } from './gradients.js';
import type { TorchBackend } from '../../backend.js';
import { nativeKernel, run } from '../../kernel_util.js';
import { maybeHandle } from './native-args.js';

export function fusedBatchNorm(args: {
  inputs: FusedBatchNormInputs; backend: TorchBackend; attrs: FusedBatchNormAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  ensureTorchGradients();
  const { x, mean, variance, offset, scale } = inputs as {
    x: TensorInfo; mean: TensorInfo; variance: TensorInfo; offset?: TensorInfo; scale?: TensorInfo;
  };
  // tfjs's batchNorm op defaults varianceEpsilon to 0.001 before dispatching.
  const eps = attrs.varianceEpsilon ?? 0.001;
  return run(backend, 'nnBatchNorm', backend.handle(x), backend.handle(mean),
    backend.handle(variance), maybeHandle(backend, offset), maybeHandle(backend, scale), eps);
}

export const fusedBatchNormConfig = nativeKernel(FusedBatchNorm, fusedBatchNorm);
