/**
 * EOT — Expectation over Transformation (Athalye, Engstrom, Ilyas & Kwok, "Synthesizing Robust
 * Adversarial Examples", ICML 2018; used against randomised defenses in Athalye, Carlini & Wagner 2018).
 *
 * Two ways in, one mechanism: every attack's `run(model, x, y, { eot: k })` (see model.ts) wraps the
 * model with `withEot(model, k)`, and `eotModel((x, seed) => ..., { samples })` wraps a randomised
 * model that takes its seed explicitly. Either way the result is a LogitsFn that every attack in this
 * folder understands: the attacks' loss/gradient helper (ball-and-losses.ts lossAndGrad) averages the
 * per-example loss, and hence its gradient, over the draws, i.e. it ascends E_t[L(F_t(x), y)]; Square
 * accepts a proposal on the loss averaged over the draws (ball-and-losses.ts averagedLoss).
 * Calling the wrapper directly (predictions, success checks) returns the mean logits of the draws.
 * With `eotModel` each draw uses a fresh seed from a deterministic stream, so a whole attack is
 * reproducible; with `withEot` the model draws its own randomness on every call.
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
 *   pgd().run((x) => classifier(randomResizeUnseeded(x)), x, y, { eot: 10 });   // the same, via the option
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LogitsFn } from '../models/types.js';
import { type EotLogitsFn, SeedStream, isEot } from './ball-and-losses.js';

/** Options of `eotModel` (defaults: EOT_DEFAULTS = 10 draws, seed 0). */
export interface EotOptions {
  readonly samples: number;
  readonly seed: number;
}

/** Defaults of `eotModel`: 10 draws per loss/gradient, seed stream starting at 0. */
export const EOT_DEFAULTS: EotOptions = { samples: 10, seed: 0 };

/** A randomised model that takes the seed of its random draw explicitly. */
export type RandomisedLogitsFn = (x: tf.Tensor4D, seed: number) => tf.Tensor2D;

/** A LogitsFn whose plain call is the mean logits of `samples` draws of `sample`. */
function averaging(samples: number, sample: (x: tf.Tensor4D, i: number) => tf.Tensor2D): EotLogitsFn {
  const forward = (x: tf.Tensor4D): tf.Tensor2D =>
    tf.tidy(() => {
      let sum = sample(x, 0);
      for (let i = 1; i < samples; i++) sum = tf.add(sum, sample(x, i));
      return tf.div(sum, samples) as tf.Tensor2D;
    });
  return Object.assign(forward, { eot: { samples, sample } });
}

function checkSamples(samples: number, what: string): void {
  if (!Number.isInteger(samples) || samples < 1) throw new Error(`${what} must be an integer >= 1, got ${samples}`);
}

/** An EOT model from a seeded randomised model. Example: `pgd().run(eotModel((x, s) => f(jitter(x, s)), { samples: 10 }), x, y)`. */
export function eotModel(randomised: RandomisedLogitsFn, options: Partial<EotOptions> = {}): EotLogitsFn {
  const o = { ...EOT_DEFAULTS, ...options };
  checkSamples(o.samples, 'eot: samples');
  const stream = new SeedStream(o.seed);
  return averaging(o.samples, (x) => randomised(x, stream.nextSeed()));
}

/**
 * `model` with `draws` EOT draws per loss and gradient (the `eot` run option of every attack). A model
 * that draws its own randomness is called `draws` times; an `eotModel` keeps its seeded sampler and
 * only changes the number of draws.
 */
export function withEot(model: LogitsFn, draws: number): EotLogitsFn {
  checkSamples(draws, 'eot: the number of draws');
  return averaging(draws, isEot(model) ? model.eot.sample : (x) => model(x));
}
