import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { PGD_DEFAULTS, PGD_DLR_DEFAULTS, pgd } from '../../src/attacks/pgd.js';
import { ensureGradients } from '../../src/attacks/ball-and-losses.js';

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
const linear = (w: tf.Tensor2D) => (x: tf.Tensor4D) => tf.tidy(() => tf.matMul(tf.reshape(x, [x.shape[0], 4]), w) as tf.Tensor2D);

/** d CE / dx for the linear model, float64. */
function ceGrad64(x: number[], y: number): number[] {
  const z = [0, 1, 2].map((k) => x.reduce((s, xi, i) => s + xi * W[i]![k]!, 0));
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const sum = e.reduce((a, b) => a + b, 0);
  return x.map((_, i) => [0, 1, 2].reduce((s, k) => s + W[i]![k]! * (e[k]! / sum - (k === y ? 1 : 0)), 0));
}

test('defaults are spec §5.1 (PGD-40, step 0.01, eps 8/255, CE, random start, final iterate) and §5.2 (DLR, 0.007)', () => {
  assert.deepEqual(PGD_DEFAULTS, { norm: 'Linf', eps: 8 / 255, steps: 40, stepSize: 0.01, loss: 'ce', randomStart: true, keepBest: false });
  assert.equal(PGD_DLR_DEFAULTS.stepSize, 0.007);
  assert.equal(PGD_DLR_DEFAULTS.loss, 'dlr');
  assert.throws(() => pgd({ steps: -1 }), /steps/);
  assert.throws(() => pgd({ stepSize: 0 }), /stepSize/);
});

test('L∞ and L2 PGD steps without random start match a float64 re-implementation', () => {
  const w = tf.tensor2d(W);
  const model = linear(w);
  const xs = [0.1, 0.5, 0.95, 0.3, 0.7, 0.02, 0.4, 0.6];
  const ys = [2, 0];
  const x = tf.tensor4d(xs, [2, 2, 2, 1]);
  const y = tf.tensor1d(ys, 'int32');
  const steps = 3;
  for (const norm of ['Linf', 'L2'] as const) {
    const eps = norm === 'Linf' ? 0.05 : 0.08;
    const step = norm === 'Linf' ? 0.02 : 0.03;
    const r = pgd({ norm, eps, steps, stepSize: step, randomStart: false }).run(model, x, y);
    const got = r.xAdv.dataSync();
    for (let n = 0; n < 2; n++) {
      const x0 = xs.slice(n * 4, n * 4 + 4);
      let cur = [...x0];
      for (let s = 0; s < steps; s++) {
        const g = ceGrad64(cur, ys[n]!);
        if (norm === 'Linf') {
          cur = cur.map((v, i) => Math.min(1, Math.max(0, Math.min(x0[i]! + eps, Math.max(x0[i]! - eps, v + step * Math.sign(g[i]!))))));
        } else {
          const gn = Math.sqrt(g.reduce((a, b) => a + b * b, 0)) + 1e-12;
          const moved = cur.map((v, i) => v + (step * g[i]!) / gn);
          const d = moved.map((v, i) => v - x0[i]!);
          const dn = Math.sqrt(d.reduce((a, b) => a + b * b, 0));
          const f = Math.min(1, eps / (dn + 1e-12));
          cur = x0.map((v, i) => Math.min(1, Math.max(0, v + d[i]! * f)));
        }
      }
      for (let i = 0; i < 4; i++) assert.ok(Math.abs(got[n * 4 + i]! - cur[i]!) < 1e-5, `${norm} example ${n} pixel ${i}: ${got[n * 4 + i]} vs ${cur[i]}`);
    }
    r.xAdv.dispose();
  }
  tf.dispose([w, x, y]);
});

test('keepBest returns a fooling iterate whenever any iterate fooled (success >= final-iterate PGD)', () => {
  const w = tf.tensor2d(W);
  const model = linear(w);
  const x = tf.randomUniform([64, 2, 2, 1], 0, 1, 'float32', 21) as tf.Tensor4D;
  const y = tf.tidy(() => tf.cast(tf.argMax(model(x), 1), 'int32') as tf.Tensor1D);
  // a large step makes the final iterate oscillate across the boundary
  const opts = { eps: 0.15, steps: 7, stepSize: 0.3, loss: 'cw' as const };
  const before = tf.memory().numTensors;
  const final = pgd(opts).run(model, x, y, 4);
  const best = pgd({ ...opts, keepBest: true }).run(model, x, y, 4);
  assert.equal(tf.memory().numTensors, before + 2);
  const finalCount = final.success.filter(Boolean).length;
  const bestCount = best.success.filter(Boolean).length;
  assert.ok(bestCount >= finalCount, `keepBest ${bestCount} < final ${finalCount}`);
  final.success.forEach((s, i) => assert.ok(!s || best.success[i], `example ${i} fooled by the final iterate but not by keepBest`));
  const d = tf.tidy(() => tf.max(tf.abs(tf.sub(best.xAdv, x))).dataSync()[0]!);
  assert.ok(d <= 0.15 + 1e-6);
  tf.dispose([w, x, y, final.xAdv, best.xAdv]);
});

test('bad inputs are errors naming the attack', () => {
  const w = tf.tensor2d(W);
  const x = tf.zeros([2, 2, 2, 1]) as tf.Tensor4D;
  assert.throws(() => pgd().run(linear(w), x, tf.tensor1d([0], 'int32')), /pgd.*y must have shape \[2\]/);
  assert.throws(() => pgd({ eps: -1 }).run(linear(w), x, tf.tensor1d([0, 1], 'int32')), /pgd.*eps/);
  tf.dispose([w, x]);
});
