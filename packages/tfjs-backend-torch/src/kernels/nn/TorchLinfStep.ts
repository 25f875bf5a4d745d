/**
 * TorchLinfStep and TorchApgdLinfStep (this backend only): the L-infinity attack updates of PGD,
 *   clamp(clamp(x + stepSize * sign(grad), x0 - eps, x0 + eps), lo, hi),
 * and of APGD (the same step with a per-example step size, then the momentum combination
 * xCur + a (z - xCur) + (1 - a)(xCur - xPrev), projected again; native/ops_fused.cc), each in one
 * native call instead of 8 and about 20 tfjs kernels. No gradients: attacks treat iterates as
 * constants between steps.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { TorchApgdLinfStep, TorchLinfStep } from '../../fused_names.js';
import { handle, nn, nnKernel, result, type TorchBackendLike } from './util.js';

export interface LinfStepAttrs { stepSize: number; epsilon: number; lo: number; hi: number }

export const torchLinfStepConfig = nnKernel(TorchLinfStep,
  ({ inputs: i, backend, attrs: a }: { inputs: { x: TensorInfo; grad: TensorInfo; x0: TensorInfo }; backend: TorchBackendLike; attrs: LinfStepAttrs }) =>
    result(backend, nn(backend).nnLinfStep(handle(backend, i.x), handle(backend, i.grad), handle(backend, i.x0),
      a.stepSize, a.epsilon, a.lo, a.hi)));

export interface ApgdLinfStepAttrs { a: number; epsilon: number; lo: number; hi: number }

export const torchApgdLinfStepConfig = nnKernel(TorchApgdLinfStep,
  ({ inputs: i, backend, attrs: a }: {
    inputs: { xCur: TensorInfo; xPrev: TensorInfo; grad: TensorInfo; x0: TensorInfo; stepSize: TensorInfo };
    backend: TorchBackendLike; attrs: ApgdLinfStepAttrs;
  }) => result(backend, nn(backend).nnApgdLinfStep(handle(backend, i.xCur), handle(backend, i.xPrev), handle(backend, i.grad),
    handle(backend, i.x0), handle(backend, i.stepSize), a.a, a.epsilon, a.lo, a.hi)));
