/**
 * TorchLinfStep and TorchApgdLinfStep (this backend only): the L-infinity attack updates of PGD,
 *   clamp(clamp(x + stepSize * sign(grad), x0 - eps, x0 + eps), lo, hi),
 * and of APGD (the same step with a per-example step size, then the momentum combination
 * xCur + a (z - xCur) + (1 - a)(xCur - xPrev), projected again; native/ops_fused.cc), each in one
 * native call instead of 8 and about 20 tfjs kernels. No gradients: attacks treat iterates as
 * constants between steps.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { TorchApgdLinfStep, TorchApgdTrack, TorchLinfBoxProjection, TorchLinfStep, TorchSquareAccept } from '../../fused_names.js';
import type { TorchBackend } from '../../backend.js';
import { nativeKernel, run, runMulti } from '../../kernel_util.js';

export interface LinfStepAttrs { stepSize: number; epsilon: number; lo: number; hi: number }

export const torchLinfStepConfig = nativeKernel(TorchLinfStep,
  ({ inputs: i, backend, attrs: a }: { inputs: { x: TensorInfo; grad: TensorInfo; x0: TensorInfo }; backend: TorchBackend; attrs: LinfStepAttrs }) =>
    run(backend, 'nnLinfStep', backend.handle(i.x), backend.handle(i.grad), backend.handle(i.x0),
      a.stepSize, a.epsilon, a.lo, a.hi));

export interface ApgdLinfStepAttrs { a: number; epsilon: number; lo: number; hi: number }

export const torchApgdLinfStepConfig = nativeKernel(TorchApgdLinfStep,
  ({ inputs: i, backend, attrs: a }: {
    inputs: { xCur: TensorInfo; xPrev: TensorInfo; grad: TensorInfo; x0: TensorInfo; stepSize: TensorInfo };
    backend: TorchBackend; attrs: ApgdLinfStepAttrs;
  }) => run(backend, 'nnApgdLinfStep', backend.handle(i.xCur), backend.handle(i.xPrev), backend.handle(i.grad),
    backend.handle(i.x0), backend.handle(i.stepSize), a.a, a.epsilon, a.lo, a.hi));

/** The inputs of TorchApgdTrack (APGD's per-iteration bookkeeping, native/ops_fused.cc). */
export interface ApgdTrackInputs {
  xCur: TensorInfo; grad: TensorInfo; loss: TensorInfo; lossPrev: TensorInfo; logits: TensorInfo; y: TensorInfo;
  xBestAdv: TensorInfo; robust: TensorInfo; increases: TensorInfo; xBest: TensorInfo; gradBest: TensorInfo; lossBest: TensorInfo;
}

export const torchApgdTrackConfig = nativeKernel(TorchApgdTrack,
  ({ inputs: i, backend }: { inputs: ApgdTrackInputs; backend: TorchBackend }) =>
    runMulti(backend, 'nnApgdTrack', backend.handle(i.xCur), backend.handle(i.grad), backend.handle(i.loss), backend.handle(i.lossPrev),
      backend.handle(i.logits), backend.handle(i.y), backend.handle(i.xBestAdv), backend.handle(i.robust),
      backend.handle(i.increases), backend.handle(i.xBest), backend.handle(i.gradBest), backend.handle(i.lossBest)));

export const torchSquareAcceptConfig = nativeKernel(TorchSquareAccept,
  ({ inputs: i, backend }: { inputs: { logits: TensorInfo; y: TensorInfo; proposal: TensorInfo; best: TensorInfo; margin: TensorInfo }; backend: TorchBackend }) =>
    runMulti(backend, 'nnSquareAccept', backend.handle(i.logits), backend.handle(i.y), backend.handle(i.proposal), backend.handle(i.best),
      backend.handle(i.margin)));

/** FAB's box-constrained L-inf projection onto a hyperplane, one native call (native/ops_projection.cc). */
export const torchLinfBoxProjectionConfig = nativeKernel(TorchLinfBoxProjection,
  ({ inputs: i, backend }: { inputs: { x: TensorInfo; w: TensorInfo; b: TensorInfo }; backend: TorchBackend }) =>
    run(backend, 'nnLinfBoxProjection', backend.handle(i.x), backend.handle(i.w), backend.handle(i.b)));
