/**
 * Original MMA (spec §3.3(b)) on a tiny linear classifier against a float64 re-implementation of
 * the SLM-PGD direction, the margin bisection, the hinge and the 2/3 : 1/3 loss mix; plus the
 * per-example margin state it stores for the next epoch.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { MmaOriginalRecipe } from '../../src/targets/recipes/mma-original.js';
import { createOptimizer } from '../../src/training/optim.js';
import { TinyLinear, hashFloat } from './tiny.js';

await tf.setBackend('cpu');

const SHAPE = [2, 3, 1] as const;
const D = 6;
const K = 3;
const B = 6;
const SEED = 77;
const OPTS = { dMax: 0.3, minEps: 0.005, attackSteps: 4, searchSteps: 10, cleanLossCoeff: 1 / 3, numExamples: 10 };
const X = Array.from({ length: B * D }, (_, i) => (hashFloat(i, 31) + 1) / 2);
const Y = [0, 1, 2, 0, 1, 2];
const INDICES = Int32Array.from([3, 7, 0, 9, 5, 1]);

const logits64 = (x: number[], W: number[][], b: number[]): number[] => b.map((bk, k) => x.reduce((s, xi, i) => s + xi * W[i]![k]!, bk));
const lse = (v: number[]): number => {
  const m = Math.max(...v);
  return m + Math.log(v.reduce((s, x) => s + Math.exp(x - m), 0));
};
const slm64 = (z: number[], y: number): number => lse(z.filter((_, k) => k !== y)) - z[y]!;
const ce64 = (z: number[], y: number): number => lse(z) - z[y]!;
const clip01 = (v: number): number => Math.min(1, Math.max(0, v));

test('original MMA: loss, moved points and stored margins match a float64 re-implementation', () => {
  const net = new TinyLinear(SHAPE, K, 41, 1.5);
  const W = net.W.arraySync() as number[][];
  const bias = net.b.arraySync() as number[];
  const recipe = new MmaOriginalRecipe(net, OPTS);
  // Give two examples an earlier margin estimate, to check e0 = max(minEps, eps_i) is used.
  const start = new Float32Array(10).fill(OPTS.minEps);
  start[3] = 0.05;
  start[0] = 0.2;
  recipe.margins.assign(tf.tensor1d(start));
  const startMargins = Array.from(recipe.margins.dataSync());
  const uniform = Array.from(tf.tidy(() => tf.randomUniform([B, ...SHAPE], -1, 1, 'float32', SEED)).dataSync());

  let lossMma = 0;
  let lossClean = 0;
  const wantMargins = [...startMargins];
  let nCorrect = 0;
  let nHinged = 0;
  for (let r = 0; r < B; r++) {
    const x = X.slice(r * D, (r + 1) * D);
    const y = Y[r]!;
    const zc = logits64(x, W, bias);
    lossClean += ce64(zc, y) / B;
    const correct = slm64(zc, y) < 0;
    const e0 = Math.max(OPTS.minEps, startMargins[INDICES[r]!]!);
    // SLM-PGD: d SLM / d z_k = softmax over wrong classes (k != y), -1 at y.
    let xa = x.map((v, i) => clip01(v + e0 * uniform[r * D + i]!));
    for (let s = 0; s < OPTS.attackSteps; s++) {
      const z = logits64(xa, W, bias);
      const l = lse(z.filter((_, k) => k !== y));
      const dz = z.map((zk, k) => (k === y ? -1 : Math.exp(zk - l)));
      xa = xa.map((v, i) => {
        const g = dz.reduce((acc, dk, k) => acc + dk * W[i]![k]!, 0);
        const stepped = v + ((2.5 * e0) / OPTS.attackSteps) * Math.sign(g);
        return clip01(Math.min(x[i]! + e0, Math.max(x[i]! - e0, stepped)));
      });
    }
    const u = xa.map((v, i) => (v - x[i]!) / (e0 + 1e-12));
    const at = (e: number): number => slm64(logits64(x.map((v, i) => clip01(v + e * u[i]!)), W, bias), y);
    let lo = 0;
    let hi = 1.05 * OPTS.dMax;
    let e = e0;
    let m = at(e);
    for (let s = 0; s < OPTS.searchSteps; s++) {
      if (m < 0) lo = Math.max(lo, e);
      else hi = Math.min(hi, e);
      e = (lo + hi) / 2;
      m = at(e);
    }
    if (correct) {
      nCorrect++;
      wantMargins[INDICES[r]!] = e;
      if (e < OPTS.dMax) lossMma += ce64(logits64(x.map((v, i) => clip01(v + e * u[i]!)), W, bias), y) / B;
      else nHinged++;
    } else {
      wantMargins[INDICES[r]!] = 0;
      lossMma += ce64(zc, y) / B;
    }
  }
  assert.ok(nCorrect > 0 && nCorrect < B, `fixture mixes correct (${nCorrect}) and wrong examples`);

  const opt = createOptimizer({ kind: 'sgd', lr: 0.01 }, recipe.variableGroups()['main']!);
  const batch = { x: tf.tensor4d(X, [B, ...SHAPE]), y: tf.tensor1d(Y, 'int32'), indices: INDICES };
  const before = tf.memory().numTensors;
  const got = recipe.step(batch, { main: opt }, SEED);
  assert.equal(tf.memory().numTensors, before, 'step must not leak tensors');
  const close = (a: number, b: number, what: string): void => assert.ok(Math.abs(a - b) <= 1e-4 * Math.max(1, Math.abs(b)), `${what}: got ${a}, expected ${b}`);
  close(got['lossClean']!, lossClean, 'clean CE');
  close(got['lossMma']!, lossMma, `MMA loss (${nHinged} hinged)`);
  close(got['loss']!, (2 / 3) * lossMma + (1 / 3) * lossClean, 'total');
  const stored = Array.from(recipe.margins.dataSync());
  stored.forEach((v, i) => close(v, wantMargins[i]!, `margin[${i}]`));
  assert.ok(recipe.stateTensors().has('mma.margins'), 'margins are checkpointed with the weights');
  tf.dispose([batch.x, batch.y]);
  opt.dispose();
  net.dispose();
});

test('original MMA refuses batches without indices and bad options', () => {
  const net = new TinyLinear(SHAPE, K, 42);
  assert.throws(() => new MmaOriginalRecipe(net, { numExamples: 0 }), /numExamples/);
  const recipe = new MmaOriginalRecipe(net, { numExamples: 6 });
  const opt = createOptimizer({ kind: 'sgd', lr: 0.01 }, recipe.variableGroups()['main']!);
  const batch = { x: tf.zeros([B, ...SHAPE]) as tf.Tensor4D, y: tf.tensor1d(Y, 'int32') };
  assert.throws(() => recipe.step(batch, { main: opt }, 0), /batch\.indices/);
  tf.dispose([batch.x, batch.y, recipe.margins]);
  opt.dispose();
  net.dispose();
});
