/**
 * The engine's own training-mode batch norm loops on the CPU (native/batch_norm_cpu.cc) against a
 * float64 closed form: many channels, rows spanning many summation blocks, odd sizes that leave
 * SIMD remainders, data far from zero (where float32 sums lose digits), running statistics and
 * every gradient; and the same bits with one thread as with two (the sums run over fixed blocks).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { batchNormTraining, nativeBinding } from '../src/index.js';
import { randomValues, skipReason, tf } from './nn_helpers.js';

const skip = skipReason();

interface Case { shape: number[]; shift: number; spread: number; withScale: boolean }

interface Outputs { y: Float32Array; runMean: Float32Array; runVar: Float32Array; dx: Float32Array; dScale: Float32Array; dOffset: Float32Array }

const MOMENTUM = 0.1;
const EPS = 1e-5;

function inputs(c: Case) {
  const C = c.shape[c.shape.length - 1]!;
  const size = c.shape.reduce((a, b) => a * b, 1);
  const x = randomValues(size, 11).map((v) => c.shift + c.spread * v);
  const dy = randomValues(size, 12);
  const scale = randomValues(C, 13).map((v) => 1 + 0.5 * v);
  const offset = randomValues(C, 14);
  const runMean = randomValues(C, 15);
  const runVar = randomValues(C, 16).map((v) => 1.5 + 0.5 * v);
  return { C, size, x, dy, scale, offset, runMean, runVar };
}

/** Training-mode batch norm and its full gradient in float64, per channel over all other axes. */
function float64Reference(c: Case): Outputs {
  const { C, size, x, dy, scale, offset, runMean, runVar } = inputs(c);
  const n = size / C;
  const mean = new Float64Array(C), ss = new Float64Array(C);
  for (let i = 0; i < size; i++) mean[i % C] += x[i]!;
  for (let k = 0; k < C; k++) mean[k] /= n;
  for (let i = 0; i < size; i++) ss[i % C] += (x[i]! - mean[i % C]!) ** 2;
  const invstd = Float64Array.from(ss, (s) => 1 / Math.sqrt(s / n + EPS));
  const w = (k: number) => (c.withScale ? scale[k]! : 1);
  const y = new Float32Array(size), dx = new Float32Array(size);
  const sumDy = new Float64Array(C), sumDyXhat = new Float64Array(C);
  for (let i = 0; i < size; i++) {
    const k = i % C, xhat = (x[i]! - mean[k]!) * invstd[k]!;
    y[i] = xhat * w(k) + (c.withScale ? offset[k]! : 0);
    sumDy[k] += dy[i]!;
    sumDyXhat[k] += dy[i]! * xhat;
  }
  for (let i = 0; i < size; i++) {
    const k = i % C, xhat = (x[i]! - mean[k]!) * invstd[k]!;
    dx[i] = w(k) * invstd[k]! * (dy[i]! - sumDy[k]! / n - xhat * sumDyXhat[k]! / n);
  }
  return {
    y, dx,
    runMean: Float32Array.from(runMean, (r, k) => (1 - MOMENTUM) * r + MOMENTUM * mean[k]!),
    runVar: Float32Array.from(runVar, (r, k) => (1 - MOMENTUM) * r + MOMENTUM * (ss[k]! / (n - 1))),
    dScale: Float32Array.from(sumDyXhat),
    dOffset: Float32Array.from(sumDy),
  };
}

async function onTorch(c: Case): Promise<Outputs> {
  await tf.setBackend('torch');
  const { C, x, dy, scale, offset, runMean, runVar } = inputs(c);
  const before = tf.memory().numTensors;
  const [xt, dyt] = [tf.tensor(x, c.shape), tf.tensor(dy, c.shape)];
  const [s, o, rm, rv] = [scale, offset, runMean, runVar].map((v) => tf.tensor1d(v)) as tf.Tensor1D[];
  const p = c.withScale ? { scale: s, offset: o } : {};
  const r = batchNormTraining(xt, { ...p, runningMean: rm, runningVariance: rv, momentum: MOMENTUM, epsilon: EPS });
  const f = (a: tf.Tensor, b: tf.Tensor, d: tf.Tensor) =>
    batchNormTraining(a, { scale: b as tf.Tensor1D, offset: d as tf.Tensor1D, momentum: MOMENTUM, epsilon: EPS }).y;
  const ones = tf.ones([C]), zeros = tf.zeros([C]);
  const [dx, dScale, dOffset] = tf.grads((a: tf.Tensor, b: tf.Tensor, d: tf.Tensor) => tf.sum(tf.mul(f(a, b, d), dyt)))(
    c.withScale ? [xt, s, o] : [xt, ones, zeros]);
  const out: Outputs = {
    y: (await r.y.data()) as Float32Array, runMean: (await r.runningMean!.data()) as Float32Array,
    runVar: (await r.runningVariance!.data()) as Float32Array, dx: (await dx!.data()) as Float32Array,
    dScale: (await dScale!.data()) as Float32Array, dOffset: (await dOffset!.data()) as Float32Array,
  };
  tf.dispose([xt, dyt, s, o, rm, rv, r.y, r.runningMean!, r.runningVariance!, dx!, dScale!, dOffset!, ones, zeros]);
  assert.equal(tf.memory().numTensors, before, 'tensors leaked');
  return out;
}

/** Largest |a - b| as a fraction of b's root mean square. */
function errorOfRms(a: Float32Array, b: Float32Array): number {
  let rms = 0, worst = 0;
  for (let i = 0; i < b.length; i++) { rms += b[i]! ** 2; worst = Math.max(worst, Math.abs(a[i]! - b[i]!)); }
  return worst / Math.sqrt(rms / b.length);
}

const CASES: Array<[string, Case]> = [
  // 25,088 rows of 64 channels: 98 blocks of 256 rows; mean 2, sd ~0.3 (float32 sums lose digits here).
  ['NHWC [32, 28, 28, 64], data around 2', { shape: [32, 28, 28, 64], shift: 2, spread: 0.5, withScale: true }],
  // Odd sizes: 37 channels leave SIMD remainders, 442 rows per block, a last block that is partial.
  ['rank 2 [1001, 37], no scale or offset', { shape: [1001, 37], shift: -0.5, spread: 1, withScale: false }],
  // More channels than a block's 16k values: one row per block.
  ['rank 2 [9, 20000]', { shape: [9, 20000], shift: 0.1, spread: 1, withScale: true }],
];

for (const [label, c] of CASES) {
  test(`engine's CPU batch norm (training) equals float64 within float32 rounding: ${label}`, { skip }, async () => {
    const want = float64Reference(c);
    const got = await onTorch(c);
    for (const k of Object.keys(want) as Array<keyof Outputs>) {
      const e = errorOfRms(got[k], want[k]);
      assert.ok(e < 2e-6, `${label} ${k}: max error ${e.toExponential(2)} of the RMS from float64`);
    }
  });
}

test('engine\'s CPU batch norm gives the same bits with one thread as with two', { skip }, async () => {
  const b = nativeBinding()!;
  const threads = b.getNumThreads();
  const c = CASES[0]![1];
  try {
    b.setNumThreads(1);
    const one = await onTorch(c);
    b.setNumThreads(2);
    const two = await onTorch(c);
    for (const k of Object.keys(one) as Array<keyof Outputs>) {
      assert.deepEqual(Buffer.from(two[k].buffer), Buffer.from(one[k].buffer), `${k} differs between 1 and 2 threads`);
    }
  } finally {
    b.setNumThreads(threads);
  }
});
