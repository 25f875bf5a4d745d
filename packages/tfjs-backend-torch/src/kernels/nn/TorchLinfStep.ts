/**
 * TorchLinfStep (this backend only): the L-infinity attack update
 *   clamp(clamp(x + stepSize * sign(grad), x0 - eps, x0 + eps), lo, hi)
 * in one native call instead of tfjs's sign, mul, add, sub, add, maximum, minimum and clipByValue.
 * No gradient: attacks treat the iterate as a constant between steps.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { TorchLinfStep } from '../../fused_names.js';
import { handle, nn, nnKernel, result, type TorchBackendLike } from './util.js';

export interface LinfStepAttrs { stepSize: number; epsilon: number; lo: number; hi: number }

export const torchLinfStepConfig = nnKernel(TorchLinfStep,
  ({ inputs: i, backend, attrs: a }: { inputs: { x: TensorInfo; grad: TensorInfo; x0: TensorInfo }; backend: TorchBackendLike; attrs: LinfStepAttrs }) =>
    result(backend, nn(backend).nnLinfStep(handle(backend, i.x), handle(backend, i.grad), handle(backend, i.x0),
      a.stepSize, a.epsilon, a.lo, a.hi)));
