/**
 * Feature-space attack of the JATP paper (Zhou et al., "Improving White-box Robustness of Pre-processing
 * Defenses via Joint Adversarial Training", Eq. 5, spec §2.4): find x~ in the L∞ eps-ball around x (and
 * in [0,1]) that maximises the distance between the internal features of x~ and of the natural x, with
 * d = mean squared error (A2). Used by JATP training to craft its "full adversarial examples".
 *
 * Two entry points:
 * - `craft(features, x, seed)`: the training-time form, any differentiable x -> feature tensor
 *   (typically z -> feat(T, P(z)) of the full model, spec §2.3); no labels; returns x~.
 * - `run(model, x, y, options)`: the common Attack shape (types.ts). It attacks the features given by
 *   the `features` option, or the model's logits when there is none, and reports success as every
 *   attack does (model(x~) misclassified). `options.eot` averages the objective over draws (eot.ts).
 * The natural features are computed once per call and held constant.
 *
 * Options (defaults in FEATURE_ATTACK_DEFAULTS, spec §2.4 / A2):
 * - eps: L∞ radius                          = 8/255
 * - stepSize: sign-step size                = 0.01
 * - steps: K iterations                     = 10
 * - randomStart: x + U(-eps, eps), clipped   = true (needed: the MSE has zero gradient at x itself)
 * - features: x -> feature tensor for `run`  = undefined (the model's logits)
 *
 * Shapes: x [N,H,W,C] in [0,1]; the feature tensor has a leading batch axis N. Returns x~ with x's shape.
 *
 * Usage:
 *   const attack = featureAttack({ steps: 10 });
 *   const xTilde = attack.craft((z) => model.applyWithFeatures(z, ['layer3'], false).features.layer3!, x, seed);
 *   const { xAdv, success } = featureAttack({ features: layer3Of }).run(fullModel, x, y, { seed: 0 });
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LogitsFn } from '../models/types.js';
import { ensureGradients, lossAndGrad, projectLinf, randomStart, untargetedSuccess } from './ball-and-losses.js';
import { withEot } from './eot.js';
import { type AttackModel, type SeedOrOptions, prepareRun } from './model.js';
import type { Attack, AttackResult } from './types.js';
import { PAPER_EPS } from '../data/threat-model.js';

/** Options of the feature attack (defaults: FEATURE_ATTACK_DEFAULTS: ε = 8/255, step 0.01, 10 steps, random start). */
export interface FeatureAttackOptions {
  readonly eps: number;
  readonly stepSize: number;
  readonly steps: number;
  readonly randomStart: boolean;
  /** The features `run` attacks (default: the model's logits). `craft` takes them as an argument. */
  readonly features?: FeatureFn;
}

/** Defaults of the feature attack (spec §2.4 / A2): ε = 8/255, step 0.01, K = 10, random start. */
export const FEATURE_ATTACK_DEFAULTS: FeatureAttackOptions = { eps: PAPER_EPS, stepSize: 0.01, steps: 10, randomStart: true };

/** A differentiable map from images to a feature tensor with a leading batch axis. */
export type FeatureFn = (x: tf.Tensor4D) => tf.Tensor;

/** The JATP feature-space attack (Eq. 5) as an Attack (`run`) and as a training-time crafter (`craft`). */
export class FeatureAttack implements Attack {
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
    return tf.tidy(() => tf.sum(FeatureAttack.mseToNatural(features(xa), natural)) as tf.Scalar);
  }

  /** Per-example mean squared difference to the natural features, [N]. */
  private static mseToNatural(featuresAdv: tf.Tensor, natural: tf.Tensor): tf.Tensor1D {
    return tf.tidy(() => tf.mean(tf.reshape(tf.square(tf.sub(featuresAdv, natural)), [featuresAdv.shape[0]!, -1]), 1) as tf.Tensor1D);
  }

  /** The common Attack shape: attack the `features` option (default: the logits), report misclassification. */
  run(model: AttackModel, x: tf.Tensor4D, y: tf.Tensor1D, options?: SeedOrOptions): AttackResult {
    const { model: logits, seed } = prepareRun(model, options);
    const eot = typeof options === 'object' ? options.eot : undefined;
    const given = this.options.features;
    const features: FeatureFn = given === undefined ? logits : eot === undefined ? given : withEot(given as LogitsFn, eot);
    const xAdv = this.craft(features, x, seed);
    return { xAdv, success: untargetedSuccess(logits, xAdv, y) };
  }

  /**
   * x~ = argmax_{x~ in B_eps(x)} MSE(f(x~), f(x)), K signed-gradient steps. The caller owns the result.
   * An EOT feature function (eot.ts) has its objective averaged over its draws. `start`, when given,
   * is the first iterate (projected onto the ball) instead of the random or natural start, so that
   * two implementations can be compared step for step from the same point.
   */
  craft(features: FeatureFn, x: tf.Tensor4D, seed = 0, start?: tf.Tensor4D): tf.Tensor4D {
    const o = this.options;
    ensureGradients();
    if (x.rank !== 4) throw new Error(`feature-attack: x must be a 4-D NHWC batch, got shape [${x.shape.join(', ')}]`);
    if (start !== undefined && start.shape.join(',') !== x.shape.join(',')) {
      throw new Error(`feature-attack: start has shape [${start.shape.join(', ')}], x has [${x.shape.join(', ')}]`);
    }
    // spec §2.4: the reference features are recomputed on each call and are constants for the attack.
    const natural = tf.tidy(() => features(x));
    let xa = start !== undefined ? projectLinf(start, x, o.eps) : o.randomStart ? randomStart(x, 'Linf', o.eps, seed) : tf.clone(x);
    // lossAndGrad: the gradient of the summed per-example MSE, averaged over EOT draws if any.
    const asLogits = features as LogitsFn;
    const lossFn = (z: tf.Tensor2D): tf.Tensor1D => FeatureAttack.mseToNatural(z, natural);
    for (let k = 0; k < o.steps; k++) {
      const { grad, loss, logits } = lossAndGrad(asLogits, xa, lossFn);
      const next = tf.tidy(() => projectLinf(tf.add(xa, tf.mul(tf.sign(grad), o.stepSize)), x, o.eps));
      tf.dispose([grad, loss, logits, xa]);
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

/** Feature attack factory. Example: `featureAttack({ steps: 10 }).craft(featuresOf, x, seed)`. */
export function featureAttack(options: Partial<FeatureAttackOptions> = {}): FeatureAttack {
  return new FeatureAttack(options);
}
