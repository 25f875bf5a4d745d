/**
 * TorchLinfStep and TorchApgdLinfStep (this backend only): the L-infinity attack updates of PGD,
 *   clamp(clamp(x + stepSize * sign(grad), x0 - eps, x0 + eps), lo, hi),
 * and of APGD (the same step with a per-example step size, then the momentum combination
 * xCur + a (z - xCur) + (1 - a)(xCur - xPrev), projected again; native/ops_fused.cc), each in one
 * native call instead of 8 and about 20 tfjs kernels. No gradients: attacks treat iterates as
 * constants between steps.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { TorchApgdLinfStep, TorchApgdTrack, TorchLinfStep, TorchSquareAccept } from '../../fused_names.js';
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

/** The inputs of TorchApgdTrack (APGD's per-iteration bookkeeping, native/ops_fused.cc). */
export interface ApgdTrackInputs {
  xCur: TensorInfo; grad: TensorInfo; loss: TensorInfo; lossPrev: TensorInfo; logits: TensorInfo; y: TensorInfo;
  xBestAdv: TensorInfo; robust: TensorInfo; increases: TensorInfo; xBest: TensorInfo; gradBest: TensorInfo; lossBest: TensorInfo;
}

export const torchApgdTrackConfig = nnKernel(TorchApgdTrack,
  ({ inputs: i, backend }: { inputs: ApgdTrackInputs; backend: TorchBackendLike }) =>
    nn(backend).nnApgdTrack(handle(backend, i.xCur), handle(backend, i.grad), handle(backend, i.loss), handle(backend, i.lossPrev),
      handle(backend, i.logits), handle(backend, i.y), handle(backend, i.xBestAdv), handle(backend, i.robust),
      handle(backend, i.increases), handle(backend, i.xBest), handle(backend, i.gradBest), handle(backend, i.lossBest))
      .map((r) => result(backend, r)));

export const torchSquareAcceptConfig = nnKernel(TorchSquareAccept,
  ({ inputs: i, backend }: { inputs: { logits: TensorInfo; y: TensorInfo; proposal: TensorInfo; best: TensorInfo; margin: TensorInfo }; backend: TorchBackendLike }) =>
    nn(backend).nnSquareAccept(handle(backend, i.logits), handle(backend, i.y), handle(backend, i.proposal), handle(backend, i.best),
      handle(backend, i.margin)).map((r) => result(backend, r)));
