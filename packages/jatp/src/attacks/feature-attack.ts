/**
 * Feature-space attack of the JATP paper (Zhou et al., "Improving White-box Robustness of Pre-processing
 * Defenses via Joint Adversarial Training", Eq. 5, spec §2.4): find x~ in the L∞ eps-ball around x (and
 * in [0,1]) that maximises the distance between the internal features of x~ and of the natural x, with
 * d = mean squared error (A2). Used by JATP training to craft its "full adversarial examples".
 *
 * The feature function is any differentiable x -> feature tensor, typically z -> feat(T, P(z)) of the full
 * model (spec §2.3). The natural features are computed once per call and held constant; no labels.
 *
 * Options (defaults in FEATURE_ATTACK_DEFAULTS, spec §2.4 / A2):
 * - eps: L∞ radius                          = 8/255
 * - stepSize: sign-step size                = 0.01
 * - steps: K iterations                     = 10
 * - randomStart: x + U(-eps, eps), clipped   = true (needed: the MSE has zero gradient at x itself)
 *
 * Shapes: x [N,H,W,C] in [0,1]; the feature tensor has a leading batch axis N. Returns x~ with x's shape.
 *
 * Usage:
 *   const attack = featureAttack({ steps: 10 });
 *   const xTilde = attack.run((z) => model.applyWithFeatures(z, ['layer3'], false).features.layer3!, x, seed);
 */
import * as tf from '@tensorflow/tfjs-core';
import { ensureGradients, projectLinf, randomStart } from './common.js';

export interface FeatureAttackOptions {
  readonly eps: number;
  readonly stepSize: number;
  readonly steps: number;
  readonly randomStart: boolean;
}

export const FEATURE_ATTACK_DEFAULTS: FeatureAttackOptions = { eps: 8 / 255, stepSize: 0.01, steps: 10, randomStart: true };

export type FeatureFn = (x: tf.Tensor4D) => tf.Tensor;

export class FeatureAttack {
  readonly name = 'feature-attack';
  readonly options: FeatureAttackOptions;

  constructor(options: Partial<FeatureAttackOptions> = {}) {
    this.options = { ...FEATURE_ATTACK_DEFAULTS, ...options };
    const o = this.options;
    if (!Number.isInteger(o.steps) || o.steps < 0) throw new Error(`feature-attack: steps must be an integer >= 0, got ${o.steps}`);
    if (!(o.eps >= 0)) throw new Error(`feature-attack: eps must be >= 0, got ${o.eps}`);
  }

  /** Per-example MSE between features of `xa` and the constant natural features, summed over the batch. */
  private static objective(features: FeatureFn, natural: tf.Tensor, xa: tf.Tensor4D): tf.Scalar {
    return tf.tidy(() => {
      const diff = tf.sub(features(xa), natural);
      const perExample = tf.mean(tf.reshape(tf.square(diff), [xa.shape[0], -1]), 1);
      return tf.sum(perExample) as tf.Scalar;
    });
  }

  /** x~ = argmax_{x~ in B_eps(x)} MSE(f(x~), f(x)), K signed-gradient steps. The caller owns the result. */
  run(features: FeatureFn, x: tf.Tensor4D, seed = 0): tf.Tensor4D {
    const o = this.options;
    ensureGradients();
    if (x.rank !== 4) throw new Error(`feature-attack: x must be a 4-D NHWC batch, got shape [${x.shape.join(', ')}]`);
    // spec §2.4: the reference features are recomputed on each call and are constants for the attack.
    const natural = tf.tidy(() => features(x));
    let xa = o.randomStart ? randomStart(x, 'Linf', o.eps, seed) : tf.clone(x);
    const gradOf = tf.grad((z: tf.Tensor) => FeatureAttack.objective(features, natural, z as tf.Tensor4D));
    for (let k = 0; k < o.steps; k++) {
      const next = tf.tidy(() => projectLinf(tf.add(xa, tf.mul(tf.sign(gradOf(xa)), o.stepSize)), x, o.eps));
      xa.dispose();
      xa = next;
    }
    natural.dispose();
    return xa;
  }

  /** Mean over the batch of the per-example feature MSE at x~ (for logging and tests). */
  distance(features: FeatureFn, x: tf.Tensor4D, xTilde: tf.Tensor4D): number {
    const value = tf.tidy(() => tf.div(FeatureAttack.objective(features, features(x), xTilde), x.shape[0]));
    const v = value.dataSync()[0]!;
    value.dispose();
    return v;
  }
}

export function featureAttack(options: Partial<FeatureAttackOptions> = {}): FeatureAttack {
  return new FeatureAttack(options);
}
