/**
 * EOT as a run option of every attack (`attack.run(model, x, y, { eot: k })`), on randomised models
 * built so that EOT matters. Gradient attacks: logits W x + s · (V x) with a fresh random sign s = ±1
 * per example and forward pass, V six times W, so one draw's gradient follows one sign's model; the
 * attacks are judged on the EOT objective E_s[CE] computed in closed form (both signs), and APGD
 * (which returns clean points unless fooled) on the points that fool the expected model W x. Square:
 * Gaussian noise on the logits, judged on the noise-free margin. Labels are the expected model's own
 * predictions, so every point starts correctly classified.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type { Attack } from '../../src/attacks/types.js';
import { averagedLoss, crossEntropyPerExample, cwMarginPerExample, ensureGradients, misclassified } from '../../src/attacks/ball-and-losses.js';
import { eotModel, withEot } from '../../src/attacks/eot.js';
import { pgd } from '../../src/attacks/pgd.js';
import { apgdCe } from '../../src/attacks/apgd.js';
import { tiBim } from '../../src/attacks/tibim.js';
import { square } from '../../src/attacks/square.js';

const [N, D, K] = [48, 16, 4];
const EPS = 0.1;

before(async () => {
  await tf.setBackend('cpu');
  ensureGradients();
});

function matrix(rows: number, cols: number, scale: number, phase: number): tf.Tensor2D {
  return tf.tensor2d(Float32Array.from({ length: rows * cols }, (_, i) => scale * Math.sin(2.3 * i + phase)), [rows, cols]);
}

/** The randomised model; its own seeded counter keeps every run reproducible without an explicit seed argument. */
function randomisedModel(noiseScale: number) {
  const w = matrix(D, K, 1, 0.1);
  const v = matrix(D, K, noiseScale, 1.9);
  let calls = 0;
  const flat = (x: tf.Tensor4D) => tf.reshape(x, [x.shape[0], D]);
  const randomised = (x: tf.Tensor4D) =>
    tf.tidy(() => {
      const sign = tf.sub(tf.mul(tf.cast(tf.greater(tf.randomUniform([x.shape[0], 1], 0, 1, 'float32', 1000 + calls++), 0.5), 'float32'), 2), 1);
      return tf.add(tf.matMul(flat(x), w), tf.mul(sign, tf.matMul(flat(x), v))) as tf.Tensor2D;
    });
  const expected = (x: tf.Tensor4D) => tf.tidy(() => tf.matMul(flat(x), w) as tf.Tensor2D);
  /** The EOT objective in closed form: E_s[CE(W x + s V x, y)], the average over s = +1 and s = -1. */
  const expectedLoss = (x: tf.Tensor4D, y: tf.Tensor1D) =>
    tf.tidy(() => {
      const [a, b] = [tf.add(tf.matMul(flat(x), w), tf.matMul(flat(x), v)), tf.sub(tf.matMul(flat(x), w), tf.matMul(flat(x), v))];
      return tf.div(tf.add(crossEntropyPerExample(a as tf.Tensor2D, y), crossEntropyPerExample(b as tf.Tensor2D, y)), 2) as tf.Tensor1D;
    });
  return { randomised, expected, expectedLoss, reset: () => (calls = 0), dispose: () => tf.dispose([w, v]) };
}

/** Images with the expected model's own predictions as labels, so that every point starts correctly classified. */
function batch(m: { expected: (x: tf.Tensor4D) => tf.Tensor2D }): { x: tf.Tensor4D; y: tf.Tensor1D } {
  const x = tf.randomUniform([N, 4, 4, 1], 0.2, 0.8, 'float32', 3) as tf.Tensor4D;
  return { x, y: tf.tidy(() => tf.argMax(m.expected(x), 1) as tf.Tensor1D) };
}

function meanOf(t: tf.Tensor): number {
  const v = tf.tidy(() => tf.mean(t).dataSync()[0]!);
  t.dispose();
  return v;
}

test('averagedLoss is the mean of the per-draw losses (not the loss of the mean logits)', () => {
  const m = randomisedModel(5);
  const { x, y } = batch(m);
  const draws = 6;
  const eot = withEot(m.randomised, draws);
  m.reset();
  const got = averagedLoss(eot, x, (z) => crossEntropyPerExample(z, y));
  m.reset();
  const perDraw = Array.from({ length: draws }, () => tf.tidy(() => crossEntropyPerExample(m.randomised(x), y)));
  const reference = tf.tidy(() => tf.div(tf.addN(perDraw), draws));
  const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(got, reference))).dataSync()[0]!);
  assert.ok(diff < 1e-5, `max |averagedLoss - mean of draws| = ${diff}`);
  // and it differs from the loss of the averaged logits (the two are not the same quantity)
  m.reset();
  const ofMean = tf.tidy(() => crossEntropyPerExample(eot(x), y));
  assert.ok(tf.tidy(() => tf.max(tf.abs(tf.sub(ofMean, reference))).dataSync()[0]!) > 1e-3);
  tf.dispose([got, ...perDraw, reference, ofMean, x, y]);
  m.dispose();
});

test('gradient attacks: EOT draws beat a single draw on a randomised model; eot: 1 is the plain attack', () => {
  const m = randomisedModel(6);
  const { x, y } = batch(m);
  const attacks: Record<string, Attack> = {
    pgd: pgd({ eps: EPS, steps: 10, stepSize: EPS / 5 }),
    'apgd-ce': apgdCe({ eps: EPS, nIter: 10 }),
    tibim: tiBim({ eps: EPS, steps: 10, stepSize: EPS / 5, kernelSize: 1 }),
  };
  const before = tf.memory().numTensors;
  for (const [name, attack] of Object.entries(attacks)) {
    m.reset();
    const single = attack.run(m.randomised, x, y, { seed: 1 });
    m.reset();
    const withDraws = attack.run(m.randomised, x, y, { seed: 1, eot: 24 });
    m.reset();
    const oneDraw = attack.run(m.randomised, x, y, { seed: 1, eot: 1 });
    const lossSingle = meanOf(m.expectedLoss(single.xAdv, y));
    const lossEot = meanOf(m.expectedLoss(withDraws.xAdv, y));
    const lossClean = meanOf(m.expectedLoss(x, y));
    const fooledSingle = meanOf(tf.tidy(() => tf.cast(misclassified(m.expected(single.xAdv), y), 'float32')));
    const fooledEot = meanOf(tf.tidy(() => tf.cast(misclassified(m.expected(withDraws.xAdv), y), 'float32')));
    if (name === 'apgd-ce') {
      // APGD returns the clean point unless an iterate fooled the model: judge it by the points that
      // really fool the expected model (a single noisy draw "fools" by chance).
      assert.ok(fooledEot > fooledSingle, `${name}: expected model fooled on ${fooledSingle} (one draw) vs ${fooledEot} (24 draws)`);
    } else {
      assert.ok(lossEot > lossSingle + 0.25 * (lossEot - lossClean), `${name}: E_s CE clean ${lossClean.toFixed(3)}, one draw ${lossSingle.toFixed(3)}, 24 draws ${lossEot.toFixed(3)}`);
    }
    // One EOT draw per step is exactly the plain attack (the same calls in the same order).
    assert.deepEqual(Array.from(oneDraw.xAdv.dataSync()), Array.from(single.xAdv.dataSync()), `${name}: eot 1`);
    tf.dispose([single.xAdv, withDraws.xAdv, oneDraw.xAdv]);
  }
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
  tf.dispose([x, y]);
  m.dispose();
});

test('Square with EOT accepts on the margin averaged over draws: a lower margin of the noise-free model than one noisy draw', () => {
  // Score-based attacks meet a different randomisation: Gaussian noise on the logits (sigma comparable
  // to the clean margins). One draw decides acceptance, and "already fooled", by chance.
  const w = matrix(D, K, 1, 0.1);
  const sigma = 0.6;
  let calls = 0;
  const clean = (x: tf.Tensor4D) => tf.tidy(() => tf.matMul(tf.reshape(x, [x.shape[0], D]), w) as tf.Tensor2D);
  const noisy = (x: tf.Tensor4D) => tf.tidy(() => tf.add(clean(x), tf.randomNormal([x.shape[0], K], 0, sigma, 'float32', 5000 + calls++)) as tf.Tensor2D);
  const { x, y } = batch({ expected: clean });
  const attack = square({ eps: EPS, nQueries: 80 });
  calls = 0;
  const single = attack.run(noisy, x, y, 4);
  calls = 0;
  const withDraws = attack.run(noisy, x, y, { seed: 4, eot: 16 });
  const margin = (xa: tf.Tensor4D) => meanOf(tf.tidy(() => tf.neg(cwMarginPerExample(clean(xa), y))));
  const [m0, one, many] = [margin(x), margin(single.xAdv), margin(withDraws.xAdv)];
  assert.ok(many < one - 0.25 * (m0 - many), `noise-free margin: clean ${m0.toFixed(3)}, one draw ${one.toFixed(3)}, 16 draws ${many.toFixed(3)}`);
  tf.dispose([single.xAdv, withDraws.xAdv, x, y, w]);
});

test('the eot option on an eotModel keeps its seeded sampler and only changes the number of draws', () => {
  const calls: number[] = [];
  const base = eotModel((x, seed) => {
    calls.push(seed);
    return tf.tidy(() => tf.reshape(tf.mul(x, 1), [x.shape[0], -1]) as tf.Tensor2D);
  }, { samples: 2, seed: 9 });
  const more = withEot(base, 5);
  assert.equal(more.eot.samples, 5);
  const x = tf.zeros([1, 2, 2, 1]) as tf.Tensor4D;
  tf.dispose(more(x));
  assert.equal(calls.length, 5);
  assert.equal(new Set(calls).size, 5, 'each draw gets a fresh seed from the eotModel stream');
  x.dispose();
});
