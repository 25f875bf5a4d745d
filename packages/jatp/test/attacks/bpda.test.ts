import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { bpdaModel } from '../../src/attacks/bpda.js';
import { pgd } from '../../src/attacks/pgd.js';
import { ensureGradients } from '../../src/attacks/ball-and-losses.js';
import { type TrainedModel, fashionMissing, fashionSlice, randomSignNoiseSuccess, rate, trainFashionMlp } from './fixtures.js';

let trained: TrainedModel | undefined;
before(async () => {
  await tf.setBackend('cpu');
  ensureGradients();
  if (!fashionMissing) trained = trainFashionMlp();
});
after(() => trained?.dispose());

/** A gradient-masking pre-processor: rounds every pixel to one of 8 levels (zero gradient almost everywhere). */
const round8 = (x: tf.Tensor4D): tf.Tensor4D => tf.tidy(() => tf.div(tf.round(tf.mul(x, 7)), 7) as tf.Tensor4D);

test('BPDA model: forward equals T(clip01(P(x))), gradient equals grad of T at u = clip01(P(x))', () => {
  const w = tf.tensor2d([[1, -2, 0.5], [0.3, 0.2, -1], [2, 1, 1], [-1, 0.5, 0.1]]);
  const classifier = (u: tf.Tensor4D) => tf.tidy(() => tf.matMul(tf.reshape(u, [u.shape[0], 4]), w) as tf.Tensor2D);
  // P pushes some pixels outside [0,1] so the clamp matters in the forward pass
  const preprocess = (x: tf.Tensor4D) => tf.tidy(() => tf.sub(tf.mul(tf.square(x), 1.5), 0.2) as tf.Tensor4D);
  const model = bpdaModel(classifier, preprocess);
  const x = tf.randomUniform([5, 2, 2, 1], 0, 1, 'float32', 9) as tf.Tensor4D;
  const u = tf.clipByValue(preprocess(x), 0, 1) as tf.Tensor4D;
  const [forward, reference] = [model(x), classifier(u)];
  assert.deepEqual(Array.from(forward.dataSync()), Array.from(reference.dataSync()));
  const dy = tf.randomNormal([5, 3], 0, 1, 'float32', 4);
  const gBpda = tf.grad((z: tf.Tensor) => tf.sum(tf.mul(model(z as tf.Tensor4D), dy)))(x);
  // independent: d<dy, u W>/du = dy W^T, reshaped to the image
  const expected = tf.reshape(tf.matMul(dy, w, false, true), x.shape);
  const diff = tf.max(tf.abs(tf.sub(gBpda, expected))).dataSync()[0]!;
  assert.ok(diff < 1e-6, `gradient mismatch ${diff}`);
  tf.dispose([w, x, u, dy, gBpda, expected, forward, reference]);
});

test('BPDA with the identity pre-processor gives exactly the plain attack', { skip: fashionMissing }, () => {
  const { model } = trained!;
  const { x, y } = fashionSlice(7000, 60);
  const identity = (z: tf.Tensor4D) => tf.clone(z);
  const plainFull = (z: tf.Tensor4D) => tf.tidy(() => model(tf.clipByValue(identity(z), 0, 1) as tf.Tensor4D));
  const attack = pgd({ eps: 0.05, steps: 10, stepSize: 0.0125 });
  const before = tf.memory().numTensors;
  const plain = attack.run(plainFull, x, y, 3);
  const viaBpda = attack.run(bpdaModel(model, identity), x, y, 3);
  assert.deepEqual(Array.from(viaBpda.xAdv.dataSync()), Array.from(plain.xAdv.dataSync()));
  assert.deepEqual(viaBpda.success, plain.success);
  tf.dispose([plain.xAdv, viaBpda.xAdv]);
  assert.equal(tf.memory().numTensors, before, 'leaked tensors');
  tf.dispose([x, y]);
});

test('gradient masking: an 8-level rounding pre-processor stops plain PGD but not BPDA', { skip: fashionMissing }, (t) => {
  const { model } = trained!;
  const { x, y } = fashionSlice(7000, 200);
  const eps = 0.1;
  const full = (z: tf.Tensor4D) => tf.tidy(() => model(tf.clipByValue(round8(z), 0, 1) as tf.Tensor4D));
  const attack = pgd({ eps, steps: 20, stepSize: eps / 4 });
  const plain = attack.run(full, x, y, 0);
  const bpda = attack.run(bpdaModel(model, round8), x, y, 0);
  const noise = randomSignNoiseSuccess(full, x, y, eps, 0);
  t.diagnostic(`fooling rate: noise ${noise.toFixed(3)}, plain PGD ${rate(plain.success).toFixed(3)}, BPDA-PGD ${rate(bpda.success).toFixed(3)}`);
  // plain PGD sees a zero gradient, so it is no better than its own random start
  assert.ok(rate(plain.success) <= noise + 0.1, `plain PGD ${rate(plain.success)} vs noise ${noise}`);
  assert.ok(rate(bpda.success) >= rate(plain.success) + 0.25, `BPDA ${rate(bpda.success)} vs plain ${rate(plain.success)}`);
  tf.dispose([plain.xAdv, bpda.xAdv, x, y]);
});
