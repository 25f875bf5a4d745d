/**
 * How one evaluated batch is scored: which images a model still gets right, whether the model is
 * randomized, and how far the attack (and the pre-processor's output) moved each image. `jatp eval`
 * and the browser audit page both score batches with these, so a page's report and the CLI's agree
 * on every field. Plain tfjs: any backend, no Node built-ins.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LogitsFn } from '../models/types.js';

/** Per image: the arg-max of the logits equals the label. */
export function correctMask(model: LogitsFn, x: tf.Tensor4D, y: tf.Tensor1D): boolean[] {
  const correct = tf.tidy(() => tf.equal(tf.cast(tf.argMax(model(x), 1), 'int32'), tf.cast(y, 'int32')));
  const values = correct.dataSync();
  correct.dispose();
  return Array.from(values, (v) => v === 1);
}

/** Two forward passes on the same input that differ anywhere: the model is randomized. */
export function isRandomized(model: LogitsFn, x: tf.Tensor4D): boolean {
  const a = tf.tidy(() => model(x));
  const b = tf.tidy(() => model(x));
  const va = a.dataSync();
  const vb = b.dataSync();
  let differs = false;
  for (let i = 0; i < va.length && !differs; i++) differs = !Object.is(va[i], vb[i]);
  tf.dispose([a, b]);
  return differs;
}

/** Mean |a - b| over the whole batch, in 0-255 pixel levels. */
export function meanAbsDiff255(a: tf.Tensor4D, b: tf.Tensor4D): number {
  const m = tf.tidy(() => tf.mul(tf.mean(tf.abs(tf.sub(a, b))), 255));
  const v = m.dataSync()[0]!;
  m.dispose();
  return v;
}

/** Per image: mean |a - b| over its elements, in 0-255 pixel levels. */
export function perExampleAbsDiff255(a: tf.Tensor4D, b: tf.Tensor4D): Float32Array {
  const m = tf.tidy(() => tf.mul(tf.mean(tf.abs(tf.sub(a, b)), [1, 2, 3]), 255));
  const v = m.dataSync() as Float32Array;
  m.dispose();
  return v;
}

/** The distance fields of an attack batch's record (see `AttackBatchRecord`). */
export interface BatchDistances {
  /** Batch-mean L1 of x_adv - x (0-255 levels) times the batch size, so batches sum. */
  readonly l1Adv: number;
  /** The same for the pre-processor's output P(x_adv) - x; absent without a pre-processor. */
  readonly l1Purified: number | undefined;
  /** Images the attack changed at all. */
  readonly attacked: number;
  /** L1 sums over the changed images only. */
  readonly l1AdvAttacked: number;
  readonly l1PurifiedAttacked?: number;
  /** Per image, only with a pre-processor: Fig. 2(b) compares the two distances image by image. */
  readonly l1AdvPerExample?: number[];
  readonly l1PurifiedPerExample?: number[];
}

/** How far x_adv (and `purified`, the pre-processor's output on it) lie from the natural batch x. */
export function batchDistances(xAdv: tf.Tensor4D, x: tf.Tensor4D, purified: tf.Tensor4D | undefined): BatchDistances {
  const n = x.shape[0];
  const adv = perExampleAbsDiff255(xAdv, x);
  const pur = purified ? perExampleAbsDiff255(purified, x) : undefined;
  let attacked = 0;
  let l1AdvAttacked = 0;
  let l1PurifiedAttacked = 0;
  adv.forEach((d, i) => {
    if (d > 0) {
      attacked++;
      l1AdvAttacked += d;
      l1PurifiedAttacked += pur ? pur[i]! : 0;
    }
  });
  return {
    l1Adv: meanAbsDiff255(xAdv, x) * n,
    l1Purified: purified ? meanAbsDiff255(purified, x) * n : undefined,
    attacked,
    l1AdvAttacked,
    ...(pur ? { l1PurifiedAttacked, l1AdvPerExample: Array.from(adv), l1PurifiedPerExample: Array.from(pur) } : {}),
  };
}
