/**
 * TorchSgdMomentumUpdate and TorchAdamUpdate (this backend only): one optimizer step over every
 * variable of a group in one native call, instead of 4-10 tfjs kernels per variable (and their
 * scalar uploads). Inputs are named `p<i>` (parameters), `g<i>` (gradients) and the slots
 * (`v<i>` velocities; `m<i>`, `v<i>` Adam's moments), with `count` in the attributes; the outputs
 * are the new parameters, then the new slots, in the same order. Formulas: native/ops_fused.cc.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { TorchSgdMomentumUpdate, TorchAdamUpdate } from '../../fused_names.js';
import { handle, nn, nnKernel, result, type TorchBackendLike } from './util.js';

export interface SgdMomentumUpdateAttrs { count: number; lr: number; momentum: number; weightDecay: number }
export interface AdamUpdateAttrs {
  count: number; lr: number; beta1: number; beta2: number; epsilon: number; weightDecay: number; step: number;
}

type Inputs = Record<string, TensorInfo>;

function handles(backend: TorchBackendLike, inputs: Inputs, prefix: string, count: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = inputs[`${prefix}${i}`];
    if (t === undefined) throw new Error(`torch backend: optimizer update is missing input '${prefix}${i}'`);
    out.push(handle(backend, t));
  }
  return out;
}

export const torchSgdMomentumUpdateConfig = nnKernel(TorchSgdMomentumUpdate,
  ({ inputs, backend, attrs: a }: { inputs: Inputs; backend: TorchBackendLike; attrs: SgdMomentumUpdateAttrs }) =>
    nn(backend).nnSgdMomentumUpdate(handles(backend, inputs, 'p', a.count), handles(backend, inputs, 'v', a.count),
      handles(backend, inputs, 'g', a.count), a.lr, a.momentum, a.weightDecay).map((r) => result(backend, r)));

export const torchAdamUpdateConfig = nnKernel(TorchAdamUpdate,
  ({ inputs, backend, attrs: a }: { inputs: Inputs; backend: TorchBackendLike; attrs: AdamUpdateAttrs }) =>
    nn(backend).nnAdamUpdate(handles(backend, inputs, 'p', a.count), handles(backend, inputs, 'm', a.count),
      handles(backend, inputs, 'v', a.count), handles(backend, inputs, 'g', a.count), a.lr, a.beta1, a.beta2,
      a.epsilon, a.weightDecay, a.step).map((r) => result(backend, r)));
