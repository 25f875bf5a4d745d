import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { eotModel } from '../../src/attacks/eot.js';
import { featureAttack } from '../../src/attacks/feature-attack.js';
import { crossEntropyPerExample, ensureGradients, lossAndGrad } from '../../src/attacks/ball-and-losses.js';
import { pgd } from '../../src/attacks/pgd.js';

before(async () => {
  await tf.setBackend('cpu');
  ensureGradients();
});

const W = [
  [1, -1, 0.5],
  [0.2, 0.3, -0.7],
  [-0.4, 0.9, 0.1],
  [0.6, -0.2, 0.3],
];

test('EOT: the loss gradient is the average of the per-draw gradients (float64 reference)', () => {
  const w = tf.tensor2d(W);
  // randomised model: x + a random per-example shift s ~ U(-0.5, 0.5), then linear
  const shifts: number[][] = [];
  const randomised = (x: tf.Tensor4D, seed: number) =>
    tf.tidy(() => {
      const s = tf.randomUniform([x.shape[0], 1], -0.5, 0.5, 'float32', seed);
      shifts.push(Array.from(s.dataSync()));
      return tf.matMul(tf.add(tf.reshape(x, [x.shape[0], 4]), s), w) as tf.Tensor2D;
    });
  const model = eotModel(randomised, { samples: 4, seed: 7 });
  const x = tf.tensor4d([0.1, 0.2, 0.3, 0.4, 0.9, 0.8, 0.7, 0.6], [2, 2, 2, 1]);
  const y = [2, 0];
  const yT = tf.tensor1d(y, 'int32');
  const before = tf.memory().numTensors;
  const r = lossAndGrad(model, x, (z) => crossEntropyPerExample(z, yT));
  assert.equal(tf.memory().numTensors, before + 3);
  assert.equal(shifts.length, 4);
  const xv = x.dataSync();
  const g = r.grad.dataSync();
  const loss = r.loss.dataSync();
  for (let n = 0; n < 2; n++) {
    const gradAvg = [0, 0, 0, 0];
    let lossAvg = 0;
    for (const s of shifts) {
      const z = [0, 1, 2].map((k) => [0, 1, 2, 3].reduce((acc, i) => acc + (xv[n * 4 + i]! + s[n]!) * W[i]![k]!, 0));
      const m = Math.max(...z);
      const e = z.map((v) => Math.exp(v - m));
      const sum = e.reduce((a, b) => a + b, 0);
      const p = e.map((v) => v / sum);
      lossAvg += -Math.log(p[y[n]!]!) / shifts.length;
      for (let i = 0; i < 4; i++) {
        gradAvg[i]! += [0, 1, 2].reduce((acc, k) => acc + W[i]![k]! * (p[k]! - (k === y[n] ? 1 : 0)), 0) / shifts.length;
      }
    }
    assert.ok(Math.abs(loss[n]! - lossAvg) < 1e-5, `loss ${n}`);
    for (let i = 0; i < 4; i++) assert.ok(Math.abs(g[n * 4 + i]! - gradAvg[i]!) < 1e-5, `grad ${n},${i}`);
  }
  tf.dispose([r.grad, r.loss, r.logits, w, x, yT]);
});

test('EOT with one draw of a deterministic model equals the plain attack; a whole EOT attack is reproducible', () => {
  const w = tf.tensor2d(W);
  const plain = (x: tf.Tensor4D) => tf.tidy(() => tf.matMul(tf.reshape(x, [x.shape[0], 4]), w) as tf.Tensor2D);
  const x = tf.randomUniform([6, 2, 2, 1], 0, 1, 'float32', 1) as tf.Tensor4D;
  const y = tf.tensor1d([0, 1, 2, 0, 1, 2], 'int32');
  const attack = pgd({ eps: 0.1, steps: 5, stepSize: 0.03 });
  const a = attack.run(plain, x, y, 2);
  const b = attack.run(eotModel((z) => plain(z), { samples: 1 }), x, y, 2);
  assert.deepEqual(Array.from(b.xAdv.dataSync()), Array.from(a.xAdv.dataSync()));
  const noisy = (z: tf.Tensor4D, seed: number) =>
    tf.tidy(() => plain(tf.add(z, tf.randomNormal(z.shape, 0, 0.1, 'float32', seed)) as tf.Tensor4D));
  const c = attack.run(eotModel(noisy, { samples: 3, seed: 5 }), x, y, 2);
  const d = attack.run(eotModel(noisy, { samples: 3, seed: 5 }), x, y, 2);
  assert.deepEqual(Array.from(c.xAdv.dataSync()), Array.from(d.xAdv.dataSync()));
  tf.dispose([w, x, y, a.xAdv, b.xAdv, c.xAdv, d.xAdv]);
});

test('feature attack (Eq. 5): stays in the ball and box, increases the feature MSE well beyond its random start, reproducible, no leaks', () => {
  // features: a fixed conv + relu on 6x6x3 images (independent of any model code)
  const kernel = tf.randomNormal([3, 3, 3, 4], 0, 0.5, 'float32', 11) as tf.Tensor4D;
  const features = (x: tf.Tensor4D) => tf.tidy(() => tf.relu(tf.conv2d(x, kernel, 1, 'same')));
  const x = tf.randomUniform([5, 6, 6, 3], 0, 1, 'float32', 12) as tf.Tensor4D;
  const eps = 8 / 255;
  const start = featureAttack({ steps: 0 });
  const full = featureAttack({}); // spec defaults: K = 10, step 0.01
  assert.deepEqual(full.options, { eps, stepSize: 0.01, steps: 10, randomStart: true });
  const before = tf.memory().numTensors;
  const x0 = start.craft(features, x, 3);
  const xa = full.craft(features, x, 3);
  const again = full.craft(features, x, 3);
  assert.equal(tf.memory().numTensors, before + 3);
  assert.deepEqual(Array.from(again.dataSync()), Array.from(xa.dataSync()));
  const a = xa.dataSync();
  const b = x.dataSync();
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= eps + 1e-6 && a[i]! >= 0 && a[i]! <= 1);
  // MSE recomputed here in float64 from the feature tensors
  const mse = (z: tf.Tensor4D): number => {
    const f = features(z);
    const f0 = features(x);
    const u = f.dataSync();
    const v = f0.dataSync();
    let s = 0;
    for (let i = 0; i < u.length; i++) s += (u[i]! - v[i]!) ** 2;
    tf.dispose([f, f0]);
    return s / u.length;
  };
  const d0 = mse(x0);
  const d1 = mse(xa);
  assert.ok(Math.abs(full.distance(features, x, xa) - d1) < 1e-4 * Math.max(1, d1));
  assert.ok(d1 > 3 * d0, `feature MSE ${d1} vs random start ${d0}`);
  tf.dispose([kernel, x, x0, xa, again]);
});
