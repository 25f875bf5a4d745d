import type * as tf from '@tensorflow/tfjs-core';
import type { LogitsFn } from '../models/types.js';

export type Norm = 'Linf' | 'L2' | 'Wasserstein';

export interface ThreatModel {
  readonly norm: Norm;
  /** Radius of the ball (pixel units for Linf/L2 on [0,1] images; mass fraction for Wasserstein). */
  readonly eps: number;
}

export interface AttackResult {
  /** Adversarial images, same shape as the input, inside the eps-ball and [0, 1]. */
  readonly xAdv: tf.Tensor4D;
  /** Per-example: the model misclassifies xAdv (untargeted) or predicts the target (targeted). */
  readonly success: boolean[];
}

/**
 * One attack. `run` must not leak tensors: everything except `xAdv` is disposed.
 * The model is any differentiable x -> logits function (usually the full model T o clip01 o P).
 */
export interface Attack {
  readonly name: string;
  run(model: LogitsFn, x: tf.Tensor4D, y: tf.Tensor1D, seed?: number): AttackResult;
}
