/**
 * TorchBatchNormTrainGrad (this backend only): the gradient of TorchBatchNormTrain, including the
 * paths through the batch mean and variance, in one native `native_batch_norm_backward` pass.
 * Outputs [dx, dScale, dOffset].
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { TorchBatchNormTrainGrad } from '../../fused_names.js';
import type { TorchBackend } from '../../backend.js';
import { nativeKernel, callMulti } from '../../kernel_util.js';
import { maybeHandle } from './native-args.js';

export interface TorchBatchNormTrainGradInputs {
  dy: TensorInfo; x: TensorInfo; scale?: TensorInfo; batchMean: TensorInfo; batchInvStd: TensorInfo;
}

export function torchBatchNormTrainGrad(args: {
  inputs: TorchBatchNormTrainGradInputs; backend: TorchBackend; attrs: { varianceEpsilon: number };
}): TensorInfo[] {
  const { inputs: i, backend, attrs } = args;
  const outs = callMulti(backend, 'nnBatchNormTrainGrad', backend.handle(i.dy), backend.handle(i.x),
    maybeHandle(backend, i.scale), backend.handle(i.batchMean), backend.handle(i.batchInvStd), attrs.varianceEpsilon);
  return backend.fromNativeList(outs);
}

export const torchBatchNormTrainGradConfig = nativeKernel(TorchBatchNormTrainGrad, torchBatchNormTrainGrad);
