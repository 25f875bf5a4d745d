import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { ensureGradients } from '../../src/attacks/common.js';
import { square, squareP, squareSide } from '../../src/attacks/square.js';
import type { LogitsFn } from '../../src/models/types.js';


// A tiny undefended classifier: linear on 8x8x3 images, trained a few Adam steps on a synthetic
// 3-class task (class k = a fixed blocky +-1 template added to grey noise: top/bottom, left/right,
// diagonal quadrants).
const H = 8;
const W = 8;
const C = 3;
const K = 3;
const N = 24;

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

function syntheticData(n: number, seed: number): { x: tf.Tensor4D; y: tf.Tensor1D } {
  const rand = lcg(seed);
  const templates: number[][] = [[], [], []];
  for (let h = 0; h < H; h++) {
    for (let w = 0; w < W; w++) {
      for (let c = 0; c < C; c++) {
        templates[0]!.push(h < H / 2 ? 1 : -1);
        templates[1]!.push(w < W / 2 ? 1 : -1);
        templates[2]!.push((h < H / 2) === (w < W / 2) ? 1 : -1);
      }
    }
  }
  const xs = new Float32Array(n * H * W * C);
  const ys = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const k = i % K;
    ys[i] = k;
    for (let j = 0; j < H * W * C; j++) xs[i * H * W * C + j] = 0.5 + 0.2 * (rand() - 0.5) + 0.1 * templates[k]![j]!;
  }
  return { x: tf.tensor4d(xs, [n, H, W, C]), y: tf.tensor1d(ys, 'int32') };
}

let model: LogitsFn;
let x: tf.Tensor4D;
let y: tf.Tensor1D;

before(async () => {
  await tf.setBackend('cpu');
  ensureGradients(); // the test model is trained here; the attack itself never differentiates
  const train = syntheticData(90, 7);
  const w = tf.variable(tf.zeros([H * W * C, K]));
  const b = tf.variable(tf.zeros([K]));
  // Logits of the centred image (x - 0.5), so that Adam converges in a few steps.
  const logits = (inp: tf.Tensor4D) => tf.add(tf.matMul(tf.reshape(tf.sub(inp, 0.5), [inp.shape[0], -1]), w), b) as tf.Tensor2D;
  const opt = tf.train.adam(0.02);
  const target = tf.oneHot(train.y, K);
  for (let step = 0; step < 40; step++) {
    opt.minimize(() => tf.losses.softmaxCrossEntropy(target, logits(train.x)) as tf.Scalar);
  }
  opt.dispose();
  tf.dispose([target, train.x, train.y]);
  model = (inp) => tf.tidy(() => logits(inp));
  ({ x, y } = syntheticData(N, 99));
});

function fooled(xs: tf.Tensor4D): boolean[] {
  const pred = tf.tidy(() => tf.argMax(model(xs), 1));
  const p = pred.dataSync();
  const t = y.dataSync();
  pred.dispose();
  return Array.from(p, (v, i) => v !== t[i]);
}

test('square: window side 29 for p=0.8 on 32x32 and p halves after iteration 10 (spec §5c)', () => {
  assert.equal(squareSide(0.8, 32, 32), 29);
  assert.equal(squareP(0.8, 10), 0.8);
  assert.equal(squareP(0.8, 11), 0.4);
  assert.equal(squareP(0.8, 51), 0.2);
  assert.equal(squareP(0.8, 9000), 0.8 / 512);
  assert.equal(squareSide(1e-6, 32, 32), 1);
});

test('square: the test model is accurate on clean data', () => {
  const f = fooled(x);
  assert.ok(f.filter(Boolean).length <= 1, `clean errors ${f.filter(Boolean).length}/${N}`);
});

test('square: output stays in the L-inf ball and [0,1], success agrees with the model, x is not modified', () => {
  const eps = 0.05;
  const xBefore = Array.from(x.dataSync());
  const { xAdv, success } = square({ eps, nQueries: 60 }).run(model, x, y, 1);
  // The input batch itself is left untouched.
  assert.deepEqual(Array.from(x.dataSync()), xBefore);
  const maxDiff = tf.tidy(() => tf.max(tf.abs(tf.sub(xAdv, x))).dataSync()[0]!);
  const lo = tf.tidy(() => tf.min(xAdv).dataSync()[0]!);
  const hi = tf.tidy(() => tf.max(xAdv).dataSync()[0]!);
  assert.ok(maxDiff <= eps + 1e-6, `max |xAdv - x| = ${maxDiff}`);
  assert.ok(lo >= 0 && hi <= 1, `range [${lo}, ${hi}]`);
  assert.deepEqual(success, fooled(xAdv));
  xAdv.dispose();
});

test('square: success is non-decreasing in eps and beats random sign noise of the same norm', () => {
  const rates: number[] = [];
  // The minimal L-inf distance to another class is about the template amplitude 0.1; on 8x8
  // images a smaller first window (pInit 0.2 -> side 4) suits the tiny model.
  const epsList = [0.1, 0.15, 0.2];
  for (const eps of epsList) {
    const { xAdv, success } = square({ eps, nQueries: 100, pInit: 0.2 }).run(model, x, y, 3);
    xAdv.dispose();
    rates.push(success.filter(Boolean).length / N);
  }
  for (let i = 1; i < rates.length; i++) assert.ok(rates[i]! >= rates[i - 1]!, `rates ${rates.join(', ')}`);
  // Random corners of the eps-box (the strongest random noise of L-inf norm eps).
  const eps = epsList[1]!;
  const noisy = tf.tidy(() => tf.clipByValue(tf.add(x, tf.mul(tf.sign(tf.randomUniform(x.shape, -1, 1, 'float32', 5)), eps)), 0, 1)) as tf.Tensor4D;
  const noiseRate = fooled(noisy).filter(Boolean).length / N;
  noisy.dispose();
  assert.ok(rates[1]! >= noiseRate + 0.5, `square ${rates[1]} vs noise ${noiseRate}`);
});

test('square: only not-yet-fooled examples are queried, at most nQueries times each', () => {
  const rowsPerCall: number[] = [];
  const counting: LogitsFn = (inp) => {
    rowsPerCall.push(inp.shape[0]);
    return model(inp);
  };
  const nQueries = 60;
  const { xAdv, success } = square({ eps: 0.2, nQueries, pInit: 0.2 }).run(counting, x, y, 3);
  xAdv.dispose();
  assert.ok(success.filter(Boolean).length >= N / 2, 'most examples are broken at this eps');
  // Call 0 is the clean check, call 1 the stripe initialisation, then one call per iteration.
  const iterations = rowsPerCall.slice(2);
  assert.ok(iterations.length <= nQueries - 1, 'the initialisation counts as the first query');
  for (let i = 1; i < iterations.length; i++) assert.ok(iterations[i]! <= iterations[i - 1]!, `rows per call ${rowsPerCall.join(',')}`);
  const queries = rowsPerCall.slice(1).reduce((a, b) => a + b, 0);
  assert.ok(queries < N * nQueries, `fooled examples kept being queried: ${queries} queries`);
  // The last iteration still queries every example that ends up unbroken, and no broken one is queried
  // again after the iteration that broke it (rows never grow back, checked above).
  const failures = success.filter((v) => !v).length;
  assert.ok(iterations[iterations.length - 1]! >= failures && iterations[iterations.length - 1]! < N);
});

test('square: deterministic given a seed', () => {
  const a = square({ eps: 0.03, nQueries: 30 }).run(model, x, y, 11);
  const b = square({ eps: 0.03, nQueries: 30 }).run(model, x, y, 11);
  assert.deepEqual(Array.from(a.xAdv.dataSync()), Array.from(b.xAdv.dataSync()));
  assert.deepEqual(a.success, b.success);
  tf.dispose([a.xAdv, b.xAdv]);
});

test('square: uses no gradients (a model whose gradient throws still works)', () => {
  const noGrad: LogitsFn = (inp) => {
    // customGrad passes (inputs..., save); only the input tensor is used here.
    const f = tf.customGrad((...args: unknown[]) => ({
      value: model(args[0] as tf.Tensor4D),
      gradFunc: () => {
        throw new Error('gradient requested from a gradient-free attack');
      },
    }));
    return f(inp) as tf.Tensor2D;
  };
  // Sanity: the wrapper really throws when differentiated.
  assert.throws(() => tf.grad((t: tf.Tensor) => tf.sum(noGrad(t as tf.Tensor4D)))(x));
  const { xAdv, success } = square({ eps: 0.2, nQueries: 40, pInit: 0.2 }).run(noGrad, x, y, 2);
  assert.ok(success.some(Boolean));
  xAdv.dispose();
});

test('square: does not leak tensors', () => {
  const before = tf.memory().numTensors;
  const { xAdv } = square({ eps: 0.03, nQueries: 20, restarts: 2 }).run(model, x, y, 4);
  xAdv.dispose();
  assert.equal(tf.memory().numTensors, before);
});

test('square: bad options and shapes are rejected with a clear message', () => {
  assert.throws(() => square({ nQueries: 0 }), /nQueries/);
  assert.throws(() => square({ pInit: 1.5 }), /pInit/);
  const yBad = tf.tensor1d([0, 1], 'int32');
  assert.throws(() => square().run(model, x, yBad), /y must have shape/);
  yBad.dispose();
});
