import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { apgdCe, apgdCheckpoints, apgdT } from '../../src/attacks/apgd.js';
import { pgd } from '../../src/attacks/pgd.js';
import { SeedStream } from '../../src/attacks/ball-and-losses.js';
import { type TrainedModel, accuracy, fashionMissing, fashionSlice, rate, trainFashionMlp } from './fixtures.js';

let trained: TrainedModel | undefined;
before(async () => {
  await tf.setBackend('cpu');
  if (!fashionMissing) trained = trainFashionMlp();
});
after(() => trained?.dispose());

test('APGD checkpoints for N=100 are the 0-based iterations 21, 40, 56, 69, 79, 86, 92, 98 (spec §5c)', () => {
  assert.deepEqual(apgdCheckpoints(100), [21, 40, 56, 69, 79, 86, 92, 98]);
  // Independent restatement of the reference rule for another N: first check after max(floor(.22N),1)
  // iterations, then intervals max(k - max(floor(.03N),1), max(floor(.06N),1)).
  const n = 37;
  const expected: number[] = [];
  let k = Math.max(Math.floor(0.22 * n), 1);
  let counter = 0;
  for (let i = 0; i < n; i++) {
    counter += 1;
    if (counter === k) {
      expected.push(i);
      k = Math.max(k - Math.max(Math.floor(0.03 * n), 1), Math.max(Math.floor(0.06 * n), 1));
      counter = 0;
    }
  }
  assert.deepEqual(apgdCheckpoints(n), expected);
});

test('APGD returns the clean input for points it does not fool and for points misclassified at the start', () => {
  // A 4-class linear model on 2x2x1 images whose decision hardly moves inside a tiny ball.
  const w = tf.tensor2d([[4, -4, 0, 1], [4, 0, -4, 1], [-4, 4, 0, 1], [-4, 0, 4, 1]]);
  const model = (x: tf.Tensor4D) => tf.tidy(() => tf.matMul(tf.reshape(x, [x.shape[0], 4]), w) as tf.Tensor2D);
  const x = tf.tensor4d([0.9, 0.9, 0.1, 0.1, 0.1, 0.1, 0.9, 0.9], [2, 2, 2, 1]);
  const labels = tf.tidy(() => tf.argMax(model(x), 1).dataSync());
  // first example labelled correctly, second deliberately wrong
  const y = tf.tensor1d([labels[0]!, (labels[1]! + 1) % 4], 'int32');
  for (const attack of [apgdCe({ eps: 0.001, nIter: 10 }), apgdT({ eps: 0.001, nIter: 10 })]) {
    const before = tf.memory().numTensors;
    const r = attack.run(model, x, y, 0);
    assert.deepEqual(r.success, [false, true]);
    assert.deepEqual(Array.from(r.xAdv.dataSync()), Array.from(x.dataSync()));
    r.xAdv.dispose();
    assert.equal(tf.memory().numTensors, before, 'leaked tensors');
  }
  tf.dispose([w, x, y]);
});

test('APGD-T with 9 targets on a 4-class model caps the targets at 3 and still fools it', () => {
  const w = tf.tensor2d([[1, 0.5, 0.2, 0], [0, 0.5, 0.2, 1], [0.3, 0.1, 0.9, 0.2], [0.2, 0.9, 0.1, 0.3]]);
  const model = (x: tf.Tensor4D) => tf.tidy(() => tf.matMul(tf.reshape(x, [x.shape[0], 4]), w) as tf.Tensor2D);
  const x = tf.randomUniform([16, 2, 2, 1], 0, 1, 'float32', 3) as tf.Tensor4D;
  const y = tf.tidy(() => tf.cast(tf.argMax(model(x), 1), 'int32') as tf.Tensor1D);
  const r = apgdT({ eps: 0.5, nIter: 10 }).run(model, x, y, 0);
  assert.ok(rate(r.success) > 0.9, `APGD-T fooled only ${rate(r.success)}`);
  tf.dispose([w, x, y, r.xAdv]);
});

test('on a trained MLP, APGD-CE reaches robust accuracy <= PGD with the same budget (AutoAttack paper)', { skip: fashionMissing }, (t) => {
  const { model } = trained!;
  const { x, y } = fashionSlice(6000, 300);
  const rows: string[] = [];
  for (const eps of [0.02, 0.04]) {
    const iters = 20;
    const p = pgd({ eps, steps: iters, stepSize: eps / 4 }).run(model, x, y, 1);
    const a = apgdCe({ eps, nIter: iters }).run(model, x, y, 1);
    const pgdAcc = accuracy(model, p.xAdv, y);
    const apgdAcc = accuracy(model, a.xAdv, y);
    rows.push(`eps ${eps}: clean ${accuracy(model, x, y).toFixed(3)} PGD-${iters} ${pgdAcc.toFixed(3)} APGD-CE-${iters} ${apgdAcc.toFixed(3)}`);
    assert.ok(apgdAcc <= pgdAcc, `eps ${eps}: APGD-CE robust accuracy ${apgdAcc} > PGD ${pgdAcc}`);
    tf.dispose([p.xAdv, a.xAdv]);
  }
  t.diagnostic(rows.join('; '));
  tf.dispose([x, y]);
});

// ---------------------------------------------------------------------------------------------------
// APGD step-size schedule against an independent float64 re-implementation of spec §5.3
// ---------------------------------------------------------------------------------------------------
const A = [
  [1.5, -2.0, 0.7, 1.1],
  [-0.8, 1.2, 2.1, -1.7],
  [2.2, 0.4, -1.3, 0.9],
];
const B = [
  [1.4, -1.1, 0.6],
  [-0.9, 1.8, -1.2],
  [0.3, -0.6, 1.7],
];

/** CE loss and its input gradient for z = B tanh(A x), float64. */
function lossGrad64(x: number[], y: number): [number, number[]] {
  const u = A.map((row) => row.reduce((s, a, i) => s + a * x[i]!, 0));
  const h = u.map(Math.tanh);
  const z = B.map((row) => row.reduce((s, b, j) => s + b * h[j]!, 0));
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const sum = e.reduce((a, b) => a + b, 0);
  const p = e.map((v) => v / sum);
  const dz = p.map((v, k) => v - (k === y ? 1 : 0));
  const dh = [0, 1, 2].map((j) => B.reduce((s, row, k) => s + row[j]! * dz[k]!, 0));
  const du = dh.map((v, j) => v * (1 - h[j]! * h[j]!));
  const dx = [0, 1, 2, 3].map((i) => A.reduce((s, row, j) => s + row[i]! * du[j]!, 0));
  return [-Math.log(p[y]!), dx];
}

function apgdReference64(x: number[], y: number, eps: number, nIter: number, uniform: number[]) {
  const proj = (v: number[]) => v.map((vi, i) => Math.min(1, Math.max(0, Math.min(x[i]! + eps, Math.max(x[i]! - eps, vi)))));
  const t = uniform.map((v) => 2 * v - 1);
  const tmax = Math.max(...t.map(Math.abs));
  let xc = t.map((ti, i) => Math.min(1, Math.max(0, x[i]! + (eps * ti) / tmax)));
  let [loss, g] = lossGrad64(xc, y);
  let xBest = xc;
  let gBest = g;
  let lossBest = loss;
  let lossBestLast = loss;
  let reducedLast = false;
  let increases = 0;
  let eta = 2 * eps;
  let xPrev = xc;
  let lossPrev = loss;
  let k = Math.max(Math.floor(0.22 * nIter), 1);
  let counter = 0;
  const etas: number[] = [];
  for (let i = 0; i < nIter; i++) {
    const a = i === 0 ? 1 : 0.75;
    const z = proj(xc.map((v, j) => v + eta * Math.sign(g[j]!)));
    const next = proj(xc.map((v, j) => v + a * (z[j]! - v) + (1 - a) * (v - xPrev[j]!)));
    xPrev = xc;
    xc = next;
    [loss, g] = lossGrad64(xc, y);
    if (loss > lossPrev) increases += 1;
    lossPrev = loss;
    if (loss > lossBest) {
      xBest = xc;
      gBest = g;
      lossBest = loss;
    }
    counter += 1;
    if (counter === k) {
      const reduce: boolean = increases <= 0.75 * k || (!reducedLast && lossBestLast >= lossBest);
      reducedLast = reduce;
      lossBestLast = lossBest;
      if (reduce) {
        eta /= 2;
        xc = xBest;
        g = gBest;
      }
      k = Math.max(k - Math.max(Math.floor(0.03 * nIter), 1), Math.max(Math.floor(0.06 * nIter), 1));
      counter = 0;
      increases = 0;
    }
    etas.push(eta);
  }
  return { etas, lossBest };
}

test('APGD step sizes, halvings and restarts follow a float64 re-implementation of spec §5.3 per example', () => {
  const a = tf.tensor2d(A);
  const b = tf.tensor2d(B);
  const model = (x: tf.Tensor4D) =>
    tf.tidy(() => tf.matMul(tf.tanh(tf.matMul(tf.reshape(x, [x.shape[0], 4]), a, false, true)), b, false, true) as tf.Tensor2D);
  const xs = [
    [0.2, 0.6, 0.4, 0.8],
    [0.9, 0.1, 0.5, 0.3],
    [0.5, 0.5, 0.5, 0.5],
  ];
  const x = tf.tensor4d(xs.flat(), [3, 2, 2, 1]);
  const y = tf.tidy(() => tf.cast(tf.argMax(model(x), 1), 'int32') as tf.Tensor1D);
  const labels = Array.from(y.dataSync());
  const eps = 0.05; // small enough that not every example is fooled at once
  const nIter = 30;
  const seed = 3;
  const traces: number[][] = [];
  const losses: number[][] = [];
  const attack = apgdCe({
    eps,
    nIter,
    onIteration: (info) => {
      traces.push(info.stepSize);
      losses.push(info.loss);
    },
  });
  const r = attack.run(model, x, y, seed);
  // The attack draws its start from tfjs' seeded uniform generator; the same numbers feed the reference.
  const runSeed = new SeedStream(seed).nextSeed();
  const uniform = tf.tidy(() => Array.from(tf.randomUniform(x.shape, 0, 1, 'float32', runSeed).dataSync()));
  let halvings = 0;
  xs.forEach((xi, n) => {
    const ref = apgdReference64(xi, labels[n]!, eps, nIter, uniform.slice(n * 4, n * 4 + 4));
    const got = traces.map((tr) => tr[n]!);
    for (let i = 0; i < nIter; i++) {
      assert.ok(Math.abs(got[i]! - ref.etas[i]!) < 1e-7, `example ${n} iteration ${i}: step ${got[i]} vs reference ${ref.etas[i]}`);
    }
    halvings += Math.round(Math.log2((2 * eps) / ref.etas[nIter - 1]!));
    const maxLoss = Math.max(...losses.map((l) => l[n]!));
    assert.ok(maxLoss <= ref.lossBest + 1e-4 && maxLoss >= ref.lossBest - 1e-4, `example ${n}: best loss ${maxLoss} vs ${ref.lossBest}`);
  });
  assert.ok(halvings > 0, 'the schedule never halved: the test would not exercise the checkpoints');
  tf.dispose([a, b, x, y, r.xAdv]);
});
