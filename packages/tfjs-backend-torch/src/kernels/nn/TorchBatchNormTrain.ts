/**
 * TorchBatchNormTrain (this backend only): training-mode batch norm in one native call. It
 * normalises x with its own batch statistics over every axis but the last (biased variance) and,
 * when running statistics are given, returns them updated PyTorch's way with `momentum`
 * (r <- (1 - momentum) r + momentum * batch statistic, unbiased variance for the running one).
 * Outputs [y, batchMean, batchInvStd, newRunningMean?, newRunningVariance?]; the batch statistics
 * are kept for the gradient (TorchBatchNormTrainGrad), which flows through them too.
 * Replaces tfjs's moments + batchNorm + running-stat arithmetic (about 20 kernels forward).
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { TorchBatchNormTrain } from '../../fused_names.js';
import type { TorchBackend } from '../../backend.js';
import { nativeKernel, callMulti } from '../../kernel_util.js';
import { maybeHandle } from './native-args.js';

export interface TorchBatchNormTrainInputs {
  x: TensorInfo; scale?: TensorInfo; offset?: TensorInfo; runningMean?: TensorInfo; runningVariance?: TensorInfo;
}
export interface TorchBatchNormTrainAttrs { momentum: number; varianceEpsilon: number }

export function torchBatchNormTrain(args: {
  inputs: TorchBatchNormTrainInputs; backend: TorchBackend; attrs: TorchBatchNormTrainAttrs;
}): TensorInfo[] {
  const { inputs: i, backend, attrs } = args;
  const outs = callMulti(backend, 'nnBatchNormTrain', backend.handle(i.x), maybeHandle(backend, i.scale),
    maybeHandle(backend, i.offset), maybeHandle(backend, i.runningMean), maybeHandle(backend, i.runningVariance),
    attrs.momentum, attrs.varianceEpsilon);
  return backend.fromNativeList(outs);
}

export const torchBatchNormTrainConfig = nativeKernel(TorchBatchNormTrain, torchBatchNormTrain);
