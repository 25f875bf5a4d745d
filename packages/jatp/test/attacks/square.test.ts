import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { ensureGradients } from '../../src/attacks/ball-and-losses.js';
import { square, squareP, squareSide } from '../../src/attacks/square.js';
import type { LogitsFn } from '../../src/models/types.js';
import { tinyModels } from './synthetic.js';


// A tiny undefended classifier: the linear model of the synthetic 8x8x3 task of ./synthetic.ts.
const N = 24;
let model: LogitsFn;
let x: tf.Tensor4D;
let y: tf.Tensor1D;

before(async () => {
  await tf.setBackend('cpu');
  ensureGradients(); // the test model is trained here; the attack itself never differentiates
  ({ linear: model, x, y } = tinyModels(N));
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
