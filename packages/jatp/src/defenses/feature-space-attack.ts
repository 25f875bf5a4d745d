/**
 * The Eq. 5 feature-space attack as JATP's training step needs it (spec §2.4): maximise
 * MSE(f(x~), f(x)) over the L∞ ball B_eps(x) ∩ [0,1], where f = feat(T, P(.)) and the reference
 * f(x) is computed once per batch with the current P and held constant.
 *
 *   xa = clip01(x + U(-eps, eps));  repeat K: xa = Proj_eps(xa + stepSize * sign(∇ MSE(f(xa), f(x))))
 *
 * Defaults (spec §4.1, A2): eps 8/255, 10 steps of 0.01, uniform random start. The returned tensor
 * carries no gradient; everything else is disposed.
 */
import * as tf from '@tensorflow/tfjs-core';

export interface FeatureSpaceAttackOptions {
  readonly eps: number;
  readonly steps: number;
  readonly stepSize: number;
  readonly randomStart: boolean;
  /**
   * Distribution of the random start: 'uniform' U(-eps, eps) (spec A2, JATP) or 'gaussian' N(0, 1)
   * noise that the first projection clips into the ball (NRP's SSP, spec §4.3).
   */
  readonly startNoise: 'uniform' | 'gaussian';
  /** Seed of the random start (tfjs randomUniform seed). */
  readonly seed: number;
}

export const FEATURE_SPACE_ATTACK_DEFAULTS: FeatureSpaceAttackOptions = {
  eps: 8 / 255,
  steps: 10,
  stepSize: 0.01,
  randomStart: true,
  startNoise: 'uniform',
  seed: 0,
};

export function featureSpaceAttack(
  featureOf: (x: tf.Tensor4D) => tf.Tensor,
  x: tf.Tensor4D,
  options: Partial<FeatureSpaceAttackOptions> = {},
): tf.Tensor4D {
  const o = { ...FEATURE_SPACE_ATTACK_DEFAULTS, ...options };
  const reference = tf.tidy(() => featureOf(x));
  const lower = tf.tidy(() => tf.clipByValue(tf.sub(x, o.eps), 0, 1));
  const upper = tf.tidy(() => tf.clipByValue(tf.add(x, o.eps), 0, 1));
  let xa: tf.Tensor4D = tf.tidy(() => {
    if (!o.randomStart) return tf.clone(x);
    const noise = o.startNoise === 'gaussian'
      ? tf.randomNormal(x.shape, 0, 1, 'float32', o.seed)
      : tf.randomUniform(x.shape, -o.eps, o.eps, 'float32', o.seed);
    return tf.minimum(tf.maximum(tf.add(x, noise), lower), upper) as tf.Tensor4D;
  });
  // Summing (not averaging) over the batch keeps each example's gradient independent of the others;
  // only the sign is used, so the scale does not matter (spec §2.4).
  const gradient = tf.grad((z: tf.Tensor) => tf.sum(tf.squaredDifference(featureOf(z as tf.Tensor4D), reference)));
  for (let k = 0; k < o.steps; k++) {
    const next = tf.tidy(() => {
      const g = gradient(xa);
      // Proj_eps: the box [x - eps, x + eps] ∩ [0, 1].
      return tf.minimum(tf.maximum(tf.add(xa, tf.mul(o.stepSize, tf.sign(g))), lower), upper) as tf.Tensor4D;
    });
    xa.dispose();
    xa = next;
  }
  tf.dispose([reference, lower, upper]);
  return xa;
}
