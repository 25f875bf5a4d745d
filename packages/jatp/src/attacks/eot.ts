/**
 * EOT — Expectation over Transformation (Athalye, Engstrom, Ilyas & Kwok, "Synthesizing Robust
 * Adversarial Examples", ICML 2018; used against randomised defenses in Athalye, Carlini & Wagner 2018).
 *
 * Wraps a randomised model (x, seed) -> logits into a LogitsFn that every attack in this folder
 * understands: the attacks' loss/gradient helper (common.ts lossAndGrad) averages the per-example loss,
 * and hence its gradient, over `samples` independent draws, i.e. it ascends E_t[L(F_t(x), y)].
 * Calling the wrapper directly (predictions, success checks) returns the mean logits of `samples` draws.
 * Each draw uses a fresh seed from a deterministic stream, so a whole attack is reproducible.
 *
 * Options (defaults in EOT_DEFAULTS):
 * - samples: draws per gradient / per prediction = 10
 * - seed: first seed of the draw stream           = 0
 *
 * Shapes: as the wrapped model: x [N,H,W,C] -> logits [N,K].
 *
 * Usage:
 *   const model = eotModel((x, seed) => classifier(randomResize(x, seed)), { samples: 10 });
 *   const { xAdv, success } = pgd().run(model, x, y, 0);
 */
import * as tf from '@tensorflow/tfjs-core';
import { type EotLogitsFn, SeedStream } from './common.js';

export interface EotOptions {
  readonly samples: number;
  readonly seed: number;
}

export const EOT_DEFAULTS: EotOptions = { samples: 10, seed: 0 };

export type RandomisedLogitsFn = (x: tf.Tensor4D, seed: number) => tf.Tensor2D;

export function eotModel(randomised: RandomisedLogitsFn, options: Partial<EotOptions> = {}): EotLogitsFn {
  const o = { ...EOT_DEFAULTS, ...options };
  if (!Number.isInteger(o.samples) || o.samples < 1) throw new Error(`eot: samples must be an integer >= 1, got ${o.samples}`);
  const stream = new SeedStream(o.seed);
  const sample = (x: tf.Tensor4D, _i: number): tf.Tensor2D => randomised(x, stream.nextSeed());
  const forward = (x: tf.Tensor4D): tf.Tensor2D =>
    tf.tidy(() => {
      let sum = sample(x, 0);
      for (let i = 1; i < o.samples; i++) sum = tf.add(sum, sample(x, i));
      return tf.div(sum, o.samples) as tf.Tensor2D;
    });
  return Object.assign(forward, { eot: { samples: o.samples, sample } });
}
