/**
 * TorchSgdMomentumUpdate and TorchAdamUpdate (this backend only): one optimizer step over every
 * variable of a group in one native call, instead of 4-10 tfjs kernels per variable (and their
 * scalar uploads). Inputs are named `p<i>` (parameters), `g<i>` (gradients) and the slots
 * (`v<i>` velocities; `m<i>`, `v<i>` Adam's moments), with `count` in the attributes; the outputs
 * are the new parameters, then the new slots, in the same order. Formulas: native/ops_fused.cc.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { TorchSgdMomentumUpdate, TorchAdamUpdate } from '../../fused_names.js';
import type { TorchBackend } from '../../backend.js';
import { nativeKernel, runMulti } from '../../kernel_util.js';

export interface SgdMomentumUpdateAttrs { count: number; lr: number; momentum: number; weightDecay: number }
export interface AdamUpdateAttrs {
  count: number; lr: number; beta1: number; beta2: number; epsilon: number; weightDecay: number; step: number;
}

type Inputs = Record<string, TensorInfo>;

function handles(backend: TorchBackend, inputs: Inputs, prefix: string, count: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = inputs[`${prefix}${i}`];
    if (t === undefined) throw new Error(`torch backend: optimizer update is missing input '${prefix}${i}'`);
    out.push(backend.handle(t));
  }
  return out;
}

export const torchSgdMomentumUpdateConfig = nativeKernel(TorchSgdMomentumUpdate,
  ({ inputs, backend, attrs: a }: { inputs: Inputs; backend: TorchBackend; attrs: SgdMomentumUpdateAttrs }) =>
    runMulti(backend, 'nnSgdMomentumUpdate', handles(backend, inputs, 'p', a.count), handles(backend, inputs, 'v', a.count),
      handles(backend, inputs, 'g', a.count), a.lr, a.momentum, a.weightDecay));

export const torchAdamUpdateConfig = nativeKernel(TorchAdamUpdate,
  ({ inputs, backend, attrs: a }: { inputs: Inputs; backend: TorchBackend; attrs: AdamUpdateAttrs }) =>
    runMulti(backend, 'nnAdamUpdate', handles(backend, inputs, 'p', a.count), handles(backend, inputs, 'm', a.count),
      handles(backend, inputs, 'v', a.count), handles(backend, inputs, 'g', a.count), a.lr, a.beta1, a.beta2,
      a.epsilon, a.weightDecay, a.step));
