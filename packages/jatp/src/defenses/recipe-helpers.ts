/**
 * Pieces every defense recipe shares: naming a network's persistent tensors for checkpoints, one
 * gradient step on a variable group, reading scalar metrics back, and splitting the paired
 * (natural | adversarial) batches that baselines trained on cached oblivious examples receive.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Network } from '../models/types.js';

/** A network's persistent tensors (weights + BN statistics) under `prefix/`, for `Recipe.stateTensors`. */
export function prefixedWeights(prefix: string, network: Network, into = new Map<string, tf.Variable>()): Map<string, tf.Variable> {
  for (const [name, v] of network.namedWeights()) into.set(`${prefix}/${name}`, v);
  return into;
}

/**
 * Minimise `loss` over `variables` with `optimizer` (one step). Returns the scalars `loss` produced,
 * read back as numbers; every tensor made here is disposed.
 */
export function optimizeGroup(
  optimizer: tf.Optimizer,
  variables: tf.Variable[],
  loss: () => { total: tf.Scalar; metrics: Record<string, tf.Scalar> },
): Record<string, number> {
  if (variables.length === 0) throw new Error('defenses: a variable group is empty (nothing to train)');
  let metricTensors: Record<string, tf.Scalar> = {};
  const { value, grads } = tf.variableGrads(() => {
    const out = loss();
    metricTensors = out.metrics;
    for (const m of Object.values(metricTensors)) tf.keep(m);
    return out.total;
  }, variables);
  optimizer.applyGradients(grads);
  const metrics: Record<string, number> = { loss: value.dataSync()[0]! };
  for (const [name, t] of Object.entries(metricTensors)) metrics[name] = t.dataSync()[0]!;
  tf.dispose([value, ...Object.values(grads), ...Object.values(metricTensors)]);
  return metrics;
}

/** Fraction of rows whose argmax equals the label (a scalar tensor). */
export function accuracy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(logits, 1), tf.cast(labels, 'int32')), 'float32')) as tf.Scalar);
}

/**
 * Baselines trained on cached oblivious examples get batches whose channels are
 * [natural (C) | adversarial (C)] (see example-cache.ts): the loop then crops/flips both halves
 * identically. This splits such a batch.
 */
export function splitPairedBatch(x: tf.Tensor4D, channels: number): { natural: tf.Tensor4D; adversarial: tf.Tensor4D } {
  if (x.shape[3] !== 2 * channels) {
    throw new Error(`defenses: expected a paired batch with ${2 * channels} channels (natural|adversarial), got ${x.shape[3]}`);
  }
  const [natural, adversarial] = tf.split(x, 2, 3) as [tf.Tensor4D, tf.Tensor4D];
  return { natural, adversarial };
}

/** The target's declared default JATP feature (optional member of Network), else ResNet-18's 'layer3' (spec §2.3 A). */
export function defaultFeatureOf(target: Network): string {
  const declared = (target as unknown as { defaultFeature?: unknown }).defaultFeature;
  return typeof declared === 'string' ? declared : 'layer3';
}

/** The feature name to use on `target`: the requested one if it exists, else an error listing the choices. */
export function checkFeatureName(target: Network, featureLayer: string): string {
  if (target.featureNames.includes(featureLayer)) return featureLayer;
  const fallback = (target as unknown as { defaultFeature?: unknown }).defaultFeature;
  if (featureLayer === 'default' && typeof fallback === 'string') return fallback;
  throw new Error(
    `feature layer '${featureLayer}' is not exposed by target '${target.arch}'; expected one of ${target.featureNames.join(', ')}` +
      (typeof fallback === 'string' ? ` (its default JATP feature is '${fallback}')` : ''),
  );
}
