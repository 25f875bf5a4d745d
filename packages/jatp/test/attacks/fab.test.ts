import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { ensureGradients } from '../../src/attacks/ball-and-losses.js';
import { fabT, fabTargetedRun } from '../../src/attacks/fab.js';
import { projectLinfBox } from '../../src/attacks/fab-projection.js';
import type { LogitsFn } from '../../src/models/types.js';
import { D, K, lcg, tinyModels } from './synthetic.js';

// Tiny undefended classifiers on the synthetic 8x8x3 task of ./synthetic.ts.
const N = 18;
let linear: LogitsFn;
let wLin: tf.Variable;
let mlp: LogitsFn;
let x: tf.Tensor4D;
let y: tf.Tensor1D;

before(async () => {
  await tf.setBackend('cpu');
  ensureGradients();
  ({ linear, wLin, mlp, x, y } = tinyModels(N));
});

function wrongOf(model: LogitsFn, xs: tf.Tensor4D): boolean[] {
  const pred = tf.tidy(() => tf.argMax(model(xs), 1));
  const p = pred.dataSync();
  const t = y.dataSync();
  pred.dispose();
  return Array.from(p, (v, i) => v !== t[i]);
}

/** Float64 reference for min ||d||_inf s.t. <w, x + d> = b, x + d in [0, 1]: bisection on the level. */
function referenceProjection(x: number[], w: number[], b: number): number[] {
  let c = b;
  for (let i = 0; i < x.length; i++) c -= w[i]! * x[i]!;
  const dir = w.map((wi) => Math.sign(c * wi));
  const room = x.map((xi, i) => (dir[i]! > 0 ? 1 - xi : xi));
  const gain = (lam: number) => w.reduce((acc, wi, i) => acc + Math.abs(wi) * Math.min(lam, room[i]!), 0);
  if (gain(1) < Math.abs(c)) return dir.map((s, i) => s * room[i]!);
  let lo = 0;
  let hi = 1;
  for (let it = 0; it < 200; it++) {
    const mid = (lo + hi) / 2;
    if (gain(mid) < Math.abs(c)) lo = mid;
    else hi = mid;
  }
  return dir.map((s, i) => s * Math.min(hi, room[i]!));
}

test('fab: box-constrained L-inf projection matches a float64 bisection reference', () => {
  const rand = lcg(3);
  const rows = 12;
  const dim = 40;
  const xs: number[][] = [];
  const ws: number[][] = [];
  const bs: number[] = [];
  for (let r = 0; r < rows; r++) {
    // Some points sit on the box faces, some rows have zero weights, some hyperplanes are out of reach.
    xs.push(Array.from({ length: dim }, (_, i) => (i % 7 === 0 ? (r % 2) : rand())));
    ws.push(Array.from({ length: dim }, (_, i) => (i % 5 === 0 ? 0 : 2 * rand() - 1)));
    const wx = xs[r]!.reduce((acc, xi, i) => acc + xi * ws[r]![i]!, 0);
    bs.push(wx + (r % 4 === 3 ? 50 : (rand() - 0.5) * 4));
  }
  const d = projectLinfBox(tf.tensor2d(xs), tf.tensor2d(ws), tf.tensor1d(bs));
  const got = d.arraySync();
  d.dispose();
  for (let r = 0; r < rows; r++) {
    const ref = referenceProjection(xs[r]!, ws[r]!, bs[r]!);
    for (let i = 0; i < dim; i++) {
      assert.ok(Math.abs(got[r]![i]! - ref[i]!) < 1e-5, `row ${r} coord ${i}: ${got[r]![i]} vs ${ref[i]}`);
      const moved = xs[r]![i]! + got[r]![i]!;
      assert.ok(moved >= -1e-6 && moved <= 1 + 1e-6);
    }
  }
});

test('fab: on a linear model the minimal perturbation found is the closed-form L-inf distance to the boundary', () => {
  // Boundary between y and t: (w_t - w_y) . (x + d) + (b_t - b_y) = 0, so the smallest L-inf
  // perturbation is |z_t - z_y| / ||w_t - w_y||_1 when the box is not active (x + -dist stays in [0, 1]).
  const target = tf.tidy(() => tf.tensor1d(Array.from(y.dataSync(), (v) => (v + 1) % K), 'int32'));
  const xWrap = tf.clone(x);
  const { xBest, normBest } = fabTargetedRun(linear, xWrap, y, target, { nIter: 60 });
  const wArr = wLin.arraySync() as number[][];
  const logits = linear(x).arraySync();
  const yArr = y.dataSync();
  const tArr = target.dataSync();
  const misclf = wrongOf(linear, xBest);
  for (let i = 0; i < N; i++) {
    const yi = yArr[i]!;
    const ti = tArr[i]!;
    let l1 = 0;
    for (let j = 0; j < D; j++) l1 += Math.abs(wArr[j]![ti]! - wArr[j]![yi]!);
    const dist = Math.abs(logits[i]![ti]! - logits[i]![yi]!) / l1;
    assert.ok(dist < 0.29, 'box inactive for this check');
    assert.ok(misclf[i], `example ${i} not misclassified`);
    assert.ok(normBest[i]! >= dist * (1 - 1e-4), `example ${i}: ${normBest[i]} below the lower bound ${dist}`);
    assert.ok(normBest[i]! <= dist * 1.02, `example ${i}: ${normBest[i]} vs minimal ${dist}`);
  }
  tf.dispose([xBest, target, xWrap]);
});

test('fab: the test models are accurate on clean data', () => {
  assert.ok(wrongOf(linear, x).filter(Boolean).length <= 1);
  assert.ok(wrongOf(mlp, x).filter(Boolean).length <= 1);
});

test('fab-t: output stays in the L-inf ball and [0,1], success agrees with the model, x is not modified', () => {
  const eps = 0.1;
  const xBefore = Array.from(x.dataSync());
  const { xAdv, success } = fabT({ eps, nIter: 20 }).run(mlp, x, y);
  assert.deepEqual(Array.from(x.dataSync()), xBefore);
  const maxDiff = tf.tidy(() => tf.max(tf.abs(tf.sub(xAdv, x))).dataSync()[0]!);
  const lo = tf.tidy(() => tf.min(xAdv).dataSync()[0]!);
  const hi = tf.tidy(() => tf.max(xAdv).dataSync()[0]!);
  assert.ok(maxDiff <= eps + 1e-6, `max |xAdv - x| = ${maxDiff}`);
  assert.ok(lo >= 0 && hi <= 1, `range [${lo}, ${hi}]`);
  assert.deepEqual(success, wrongOf(mlp, xAdv));
  assert.ok(success.some(Boolean));
  xAdv.dispose();
});

test('fab-t: success is non-decreasing in eps and beats random sign noise of the same norm', () => {
  const epsList = [0.07, 0.08, 0.09, 0.1];
  const rates = epsList.map((eps) => {
    const { xAdv, success } = fabT({ eps, nIter: 20 }).run(mlp, x, y);
    xAdv.dispose();
    return success.filter(Boolean).length / N;
  });
  for (let i = 1; i < rates.length; i++) assert.ok(rates[i]! >= rates[i - 1]!, `rates ${rates.join(', ')}`);
  const eps = epsList[3]!;
  const noisy = tf.tidy(() => tf.clipByValue(tf.add(x, tf.mul(tf.sign(tf.randomUniform(x.shape, -1, 1, 'float32', 5)), eps)), 0, 1)) as tf.Tensor4D;
  const noiseRate = wrongOf(mlp, noisy).filter(Boolean).length / N;
  noisy.dispose();
  assert.ok(rates[3]! >= noiseRate + 0.5, `fab ${rates[3]} vs noise ${noiseRate}`);
});

test('fab-t: deterministic given a seed (random restarts included)', () => {
  const attack = fabT({ eps: 0.07, nIter: 10, restarts: 2, nTargetClasses: 2 });
  const a = attack.run(mlp, x, y, 5);
  const b = attack.run(mlp, x, y, 5);
  assert.deepEqual(Array.from(a.xAdv.dataSync()), Array.from(b.xAdv.dataSync()));
  assert.deepEqual(a.success, b.success);
  tf.dispose([a.xAdv, b.xAdv]);
});

test('fab-t: does not leak tensors', () => {
  const before = tf.memory().numTensors;
  const { xAdv } = fabT({ eps: 0.07, nIter: 5, restarts: 2 }).run(mlp, x, y, 1);
  xAdv.dispose();
  assert.equal(tf.memory().numTensors, before);
});

test('fab-t: bad options and shapes are rejected with a clear message', () => {
  assert.throws(() => fabT({ nIter: 0 }), /nIter/);
  assert.throws(() => fabT({ beta: 0 }), /beta/);
  const yBad = tf.tensor1d([0, 1], 'int32');
  assert.throws(() => fabT().run(mlp, x, yBad), /y must have shape/);
  yBad.dispose();
});
