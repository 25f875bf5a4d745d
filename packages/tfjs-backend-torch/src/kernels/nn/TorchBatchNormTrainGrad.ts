/**
 * TorchBatchNormTrainGrad (this backend only): the gradient of TorchBatchNormTrain, including the
 * paths through the batch mean and variance, in one native `native_batch_norm_backward` pass.
 * Outputs [dx, dScale, dOffset].
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { TorchBatchNormTrainGrad } from '../../fused_names.js';
import { handle, maybeHandle, nn, nnKernel, result, type TorchBackendLike } from './util.js';

export interface TorchBatchNormTrainGradInputs {
  dy: TensorInfo; x: TensorInfo; scale?: TensorInfo; batchMean: TensorInfo; batchInvStd: TensorInfo;
}

export function torchBatchNormTrainGrad(args: {
  inputs: TorchBatchNormTrainGradInputs; backend: TorchBackendLike; attrs: { varianceEpsilon: number };
}): TensorInfo[] {
  const { inputs: i, backend, attrs } = args;
  const outs = nn(backend).nnBatchNormTrainGrad(handle(backend, i.dy), handle(backend, i.x),
    maybeHandle(backend, i.scale), handle(backend, i.batchMean), handle(backend, i.batchInvStd), attrs.varianceEpsilon);
  return outs.map((r) => result(backend, r));
}

export const torchBatchNormTrainGradConfig = nnKernel(TorchBatchNormTrainGrad, torchBatchNormTrainGrad);
