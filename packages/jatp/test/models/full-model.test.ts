import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { buildNetwork } from '../../src/models/architectures.js';
import { fullModel, PREPROCESSED } from '../../src/models/full-model.js';
import type { Classifier } from '../../src/models/types.js';

await tf.setBackend('cpu');

const maxAbs = (a: tf.Tensor, b: tf.Tensor): number => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);

function tiny(): { T: Classifier; P: ReturnType<typeof buildNetwork> } {
  const T = buildNetwork('small-cnn', { width: 4, seed: 11, inputSize: 16 }) as Classifier;
  const P = buildNetwork('jatp-purifier', { nf: 4, gc: 2, nb: 1, seed: 12, inputSize: 16 });
  return { T, P };
}

test('F(x) = T(clip01(P(x))) by default and T(P(x)) without clamp', () => {
  const { T, P } = tiny();
  const x = tf.randomUniform([2, 16, 16, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
  const p = P.apply(x, false) as tf.Tensor4D;
  // The untrained purifier must actually leave [0, 1] somewhere, or the clamp is not exercised.
  assert.ok(tf.min(p).dataSync()[0]! < 0 || tf.max(p).dataSync()[0]! > 1);
  const expectClamped = T.apply(tf.clipByValue(p, 0, 1) as tf.Tensor4D, false);
  const expectRaw = T.apply(p, false);
  const F = fullModel(T, P);
  const Fraw = fullModel(T, P, { clamp: false });
  const got = F.logits(x);
  const gotRaw = Fraw.logits(x);
  assert.ok(maxAbs(got, expectClamped) < 1e-6);
  assert.ok(maxAbs(gotRaw, expectRaw) < 1e-6);
  assert.ok(maxAbs(got, gotRaw) > 1e-6);
  const Tonly = fullModel(T);
  const t = Tonly.logits(x);
  const tRef = T.apply(x, false);
  assert.ok(maxAbs(t, tRef) === 0);
  tf.dispose([x, p, expectClamped, expectRaw, got, gotRaw, t, tRef]);
  T.dispose();
  P.dispose();
});

test('gradient through P and T matches a central finite difference', () => {
  const { T, P } = tiny();
  const F = fullModel(T, P, { clamp: false });
  const x = tf.randomUniform([1, 16, 16, 3], 0.2, 0.8, 'float32', 6) as tf.Tensor4D;
  const v = tf.randomNormal([1, 16, 16, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
  const f = (z: tf.Tensor4D): tf.Scalar => tf.tidy(() => tf.sum(tf.mul(F.logits(z), tf.tensor1d([1, -2, 0.5, 3, -1, 0, 2, 1, -0.5, 1]))) as tf.Scalar);
  const g = tf.grad((z: tf.Tensor) => f(z as tf.Tensor4D))(x);
  const analytic = tf.sum(tf.mul(g, v)).dataSync()[0]!;
  const h = 2e-3;
  const fp = f(tf.add(x, tf.mul(v, h)) as tf.Tensor4D).dataSync()[0]!;
  const fm = f(tf.sub(x, tf.mul(v, h)) as tf.Tensor4D).dataSync()[0]!;
  const numeric = (fp - fm) / (2 * h);
  assert.ok(Math.abs(analytic) > 1e-4, 'gradient must not vanish');
  assert.ok(Math.abs(analytic - numeric) <= 2e-2 * Math.abs(numeric) + 1e-4, `analytic ${analytic} vs numeric ${numeric}`);
  tf.dispose([x, v, g]);
  T.dispose();
  P.dispose();
});

test('BPDA: same forward, gradient equals T gradient at clip01(P(x)) (identity through P)', () => {
  const { T, P } = tiny();
  const exact = fullModel(T, P);
  const bpda = fullModel(T, P, { bpda: true });
  const x = tf.randomUniform([2, 16, 16, 3], 0, 1, 'float32', 8) as tf.Tensor4D;
  const l1 = exact.logits(x);
  const l2 = bpda.logits(x);
  assert.ok(maxAbs(l1, l2) < 1e-6);
  const gB = tf.grad((z: tf.Tensor) => tf.sum(bpda.logits(z as tf.Tensor4D)))(x);
  const z = tf.clipByValue(P.apply(x, false), 0, 1);
  const gRef = tf.grad((u: tf.Tensor) => tf.sum(T.apply(u as tf.Tensor4D, false)))(z);
  const gExact = tf.grad((u: tf.Tensor) => tf.sum(exact.logits(u as tf.Tensor4D)))(x);
  assert.ok(maxAbs(gB, gRef) < 1e-6);
  assert.ok(maxAbs(gB, gExact) > 1e-4, 'BPDA gradient should differ from the exact one');
  tf.dispose([x, l1, l2, gB, z, gRef, gExact]);
  T.dispose();
  P.dispose();
});

test('logitsAndFeatures returns T features and the preprocessed input without leaking', () => {
  const { T, P } = tiny();
  const F = fullModel(T, P);
  const x = tf.randomUniform([2, 16, 16, 3]) as tf.Tensor4D;
  const warm = F.logitsAndFeatures(x, ['block3', PREPROCESSED], false); // first call builds the feature view
  tf.dispose([warm.logits, ...Object.values(warm.features)]);
  const before = tf.memory().numTensors;
  const r = F.logitsAndFeatures(x, ['block3', PREPROCESSED], false);
  assert.deepEqual(r.logits.shape, [2, 10]);
  assert.deepEqual(r.features['block3']!.shape, [2, 4, 4, 16]);
  const [lo, hi] = tf.tidy(() => [tf.min(r.features[PREPROCESSED]!).dataSync()[0]!, tf.max(r.features[PREPROCESSED]!).dataSync()[0]!]);
  assert.ok(lo! >= 0 && hi! <= 1);
  const ref = F.logits(x);
  assert.ok(maxAbs(ref, r.logits) < 1e-6);
  tf.dispose([ref, r.logits, ...Object.values(r.features)]);
  assert.equal(tf.memory().numTensors, before);
  x.dispose();
  T.dispose();
  P.dispose();
});
