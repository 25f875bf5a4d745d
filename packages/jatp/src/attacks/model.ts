/**
 * What an attack may be pointed at, and the one place that turns it into the x -> logits function the
 * attack code works with. Every attack's `run(model, x, y, options)` accepts:
 *
 * - a plain function x -> logits (a `LogitsFn`; an EOT model from eot.ts is one too),
 * - one of ours: a `FullModel` (`fullModel(T, P)`, its `logits` are attacked) or a registry
 *   classifier (`buildNetwork` / `loadNetwork`; run in inference mode),
 * - a `tf.LayersModel` (e.g. `tf.sequential`, or `tf.loadLayersModel(jatpWeights(...))`), called with
 *   `training: false`,
 * - a `tf.GraphModel` or anything else with `predict(x)` (e.g. `tf.loadGraphModel`).
 *
 * Inputs are NHWC images in [0, 1]; the output must be logits [N, K] (a model that ends in softmax
 * still works for the decisions, but CE on probabilities is a weaker attack loss).
 *
 * Run options (the fourth argument; a bare number is the seed):
 * - seed: seed of the attack's random choices             = the attack's default (0)
 * - eot: draws per loss / gradient for a randomised model = none (one forward pass). See eot.ts.
 *
 * Usage:
 *   const f = asLogitsFn(tf.sequential({ layers: [...] }));       // x -> logits
 *   apgdCe({ eps: 0.1 }).run(layersModel, x, y, { seed: 1, eot: 8 });
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { LogitsFn } from '../models/types.js';
import { withEot } from './eot.js';

/** Our full model T(clip01(P(x))) or anything else carrying an x -> logits function. */
export interface HasLogits {
  readonly logits: LogitsFn;
}

/** One of our registry networks (`Network.apply(x, training)`), e.g. a classifier from `loadNetwork`. */
export interface AppliesInInferenceMode {
  readonly arch: string;
  apply(x: tf.Tensor4D, training: boolean): tf.Tensor;
}

/** A tf.LayersModel (structurally: `layers` and `apply(x, { training })`). */
export interface LayersModelLike {
  readonly layers: readonly unknown[];
  apply(x: tf.Tensor, kwargs?: { training?: boolean }): unknown;
}

/** A tf.GraphModel, or any model with `predict(x)`. */
export interface PredictsLike {
  predict(x: tf.Tensor, config?: unknown): unknown;
}

/** Everything `attack.run` accepts as its model. */
export type AttackModel = LogitsFn | HasLogits | AppliesInInferenceMode | LayersModelLike | PredictsLike;

/** The fourth argument of `attack.run`: a seed, or these options. */
export interface RunOptions {
  /** Seed of the attack's random choices (random start, restarts, Square's windows). Default: the attack's own (0). */
  readonly seed?: number;
  /**
   * EOT draws (spec §5.6 context: randomised defenses): every loss, gradient and Square acceptance is
   * averaged over this many forward passes of the model. Default: none (1 pass; or the draws of an
   * `eotModel`, whose own setting wins when this is absent).
   */
  readonly eot?: number;
}

/** The fourth argument of `attack.run`: a seed, or RunOptions `{ seed, eot }`. */
export type SeedOrOptions = number | RunOptions;

function asTensor2D(out: unknown, what: string): tf.Tensor2D {
  const t = Array.isArray(out) ? out[0] : out;
  const rank = (t as { rank?: unknown } | undefined)?.rank;
  if (rank !== 2) {
    throw new Error(`attack model: ${what} must return logits of shape [N, numClasses], got ${rank === undefined ? String(t) : `a rank-${String(rank)} tensor`}`);
  }
  return t as tf.Tensor2D;
}

/** Normalises any accepted model to x -> logits. A function is returned unchanged (its EOT draws kept). */
export function asLogitsFn(model: AttackModel): LogitsFn {
  if (typeof model === 'function') return model;
  if (model === null || typeof model !== 'object') {
    throw new Error(`attack model: expected a function x -> logits, a FullModel, a network, a tf.LayersModel or a tf.GraphModel; got ${String(model)}`);
  }
  const m = model as Partial<HasLogits & AppliesInInferenceMode & LayersModelLike & PredictsLike>;
  if (typeof m.logits === 'function') return m.logits;
  if (typeof m.arch === 'string' && typeof m.apply === 'function') {
    const net = model as AppliesInInferenceMode;
    return (x) => asTensor2D(net.apply(x, false), `network '${net.arch}'`);
  }
  if (Array.isArray(m.layers) && typeof m.apply === 'function') {
    const layers = model as LayersModelLike;
    // apply (not predict): predict runs in its own tidy outside the gradient tape's reach for some versions.
    return (x) => asTensor2D(layers.apply(x, { training: false }), 'the tf.LayersModel');
  }
  if (typeof m.predict === 'function') {
    const graph = model as PredictsLike;
    return (x) => asTensor2D(graph.predict(x), 'predict()');
  }
  throw new Error('attack model: expected a function x -> logits, a FullModel (with .logits), a network (with .arch and .apply), a tf.LayersModel or a tf.GraphModel (with .predict)');
}

/**
 * The model and seed an attack's `run` works with: the model normalised, wrapped for EOT when
 * `eot` draws are asked for, and the seed taken from the options or the attack's default.
 */
export function prepareRun(model: AttackModel, options: SeedOrOptions | undefined, defaultSeed = 0): { model: LogitsFn; seed: number } {
  const o: RunOptions = typeof options === 'number' ? { seed: options } : (options ?? {});
  if (o.seed !== undefined && !Number.isFinite(o.seed)) throw new Error(`attack: seed must be a finite number, got ${o.seed}`);
  const f = asLogitsFn(model);
  return { model: o.eot === undefined ? f : withEot(f, o.eot), seed: o.seed ?? defaultSeed };
}
