import type * as tf from '@tensorflow/tfjs-core';
import type { AttackModel, SeedOrOptions } from './model.js';

export type { AttackModel, RunOptions, SeedOrOptions } from './model.js';

/** Threat-model norms: L∞ and L2 balls, and the Wasserstein ball of FWA. */
export type Norm = 'Linf' | 'L2' | 'Wasserstein';

/** A threat model: a norm and the radius of its ball. */
export interface ThreatModel {
  readonly norm: Norm;
  /** Radius of the ball (pixel units for Linf/L2 on [0,1] images; mass fraction for Wasserstein). */
  readonly eps: number;
}

/** What every attack returns. The caller owns (and disposes) `xAdv`. */
export interface AttackResult {
  /** Adversarial images, same shape as the input, inside the eps-ball and [0, 1]. */
  readonly xAdv: tf.Tensor4D;
  /** Per-example: the model misclassifies xAdv (untargeted) or predicts the target (targeted). */
  readonly success: boolean[];
}

/**
 * One attack: the single shape every attack of the toolkit has (PGD, APGD, AutoAttack, FAB-T, Square,
 * FWA, TI-BIM, the feature attack). `run` must not leak tensors: everything except `xAdv` is disposed.
 *
 * - `model`: a function x -> logits (usually the full model T ∘ clip01 ∘ P), a FullModel, a registry
 *   network, a tf.LayersModel or a tf.GraphModel (see model.ts, `asLogitsFn`);
 * - `x` [N,H,W,C] in [0,1], `y` [N] integer labels;
 * - `options`: the seed (a number, default 0 or the attack's `seed` option) or `{ seed, eot }`, `eot`
 *   being the number of EOT draws for a randomised model (eot.ts).
 *
 * Usage:
 *   const { xAdv, success } = apgdCe({ eps: 8 / 255 }).run(model, x, y, { seed: 0 });
 */
export interface Attack {
  readonly name: string;
  run(model: AttackModel, x: tf.Tensor4D, y: tf.Tensor1D, options?: SeedOrOptions): AttackResult;
}
