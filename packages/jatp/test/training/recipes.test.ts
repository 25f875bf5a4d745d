/**
 * Each target recipe's loss against an independent float64 computation of the spec §3.2/§3.3
 * formula, on a tiny linear classifier (closed-form input gradients, so the training PGD is
 * re-implemented here in plain JS) and tiny data. The only shared piece is tfjs' seeded Gaussian
 * generator, used to reproduce the random start x + 0.001·N(0, I).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { NaturalRecipe } from '../../src/targets/recipes/natural.js';
import { StandardRecipe } from '../../src/targets/recipes/standard.js';
import { TradesRecipe } from '../../src/targets/recipes/trades.js';
import { MartRecipe } from '../../src/targets/recipes/mart.js';
import { MmaRecipe } from '../../src/targets/recipes/mma.js';
import { createOptimizer } from '../../src/training/optim.js';
import { trainingAttack, type TrainAttackOptions } from '../../src/targets/recipes/classifier-recipe.js';
import type { ClassifierRecipe } from '../../src/targets/recipes/classifier-recipe.js';
import { TinyLinear, hashFloat } from './tiny.js';

await tf.setBackend('cpu');

const SHAPE = [2, 3, 1] as const; // d = 6 inputs
const D = 6;
const K = 3;
const B = 6;
const ATTACK: TrainAttackOptions = { eps: 0.1, stepSize: 0.04, steps: 3, startStd: 0.001 };
const SEED = 1234;

// Pixels in [0,1], some exactly at the bounds so clipping is exercised.
const X = Array.from({ length: B * D }, (_, i) => (i % 7 === 0 ? 0 : i % 11 === 0 ? 1 : (hashFloat(i, 9) + 1) / 2));
const Y = [0, 1, 2, 0, 1, 2];

type Mat = number[][];

function readMat(v: tf.Tensor, rows: number, cols: number): Mat {
  const d = v.dataSync();
  return Array.from({ length: rows }, (_, r) => Array.from({ length: cols }, (_, c) => d[r * cols + c]!));
}

function logits64(x: Mat, W: Mat, b: number[]): Mat {
  return x.map((row) => b.map((bk, k) => row.reduce((s, xi, i) => s + xi * W[i]![k]!, bk)));
}

function softmax64(z: number[]): number[] {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, c) => a + c, 0);
  return e.map((v) => v / s);
}

function ce64(z: number[], y: number): number {
  return -Math.log(softmax64(z)[y]!);
}

function kl64(p: number[], q: number[]): number {
  return p.reduce((s, pk, k) => s + pk * (Math.log(pk) - Math.log(q[k]!)), 0);
}

const mean = (v: number[]): number => v.reduce((a, c) => a + c, 0) / v.length;

/** spec §3.2 pgd_train for a linear model, float64: ascent on CE (or KL to fixed pNat). */
function pgd64(x: Mat, y: number[], W: Mat, b: number[], loss: 'ce' | 'kl', noise: number[]): Mat {
  const pNat = logits64(x, W, b).map(softmax64);
  let xa = x.map((row, r) => row.map((v, i) => v + noise[r * D + i]!));
  for (let s = 0; s < ATTACK.steps; s++) {
    const z = logits64(xa, W, b);
    xa = xa.map((row, r) => {
      const p = softmax64(z[r]!);
      // d loss / d z: CE -> p - onehot(y); KL(pNat || p) -> p - pNat
      const dz = p.map((pk, k) => pk - (loss === 'ce' ? (k === y[r] ? 1 : 0) : pNat[r]![k]!));
      return row.map((v, i) => {
        const g = dz.reduce((acc, dk, k) => acc + dk * W[i]![k]!, 0);
        const stepped = v + ATTACK.stepSize * Math.sign(g);
        const xi = x[r]![i]!;
        return Math.min(1, Math.max(0, Math.min(xi + ATTACK.eps, Math.max(xi - ATTACK.eps, stepped))));
      });
    });
  }
  return xa.map((row) => row.map((v) => Math.min(1, Math.max(0, v))));
}

interface Fixture {
  net: TinyLinear;
  x: Mat;
  W: Mat;
  b: number[];
  noise: number[];
  batch: { x: tf.Tensor4D; y: tf.Tensor1D };
}

function fixture(salt: number): Fixture {
  const net = new TinyLinear(SHAPE, K, salt, 1.5);
  const x = Array.from({ length: B }, (_, r) => X.slice(r * D, (r + 1) * D));
  const noise = Array.from(tf.tidy(() => tf.randomNormal([B, ...SHAPE], 0, ATTACK.startStd, 'float32', SEED)).dataSync());
  return {
    net,
    x,
    W: readMat(net.W, D, K),
    b: Array.from(net.b.dataSync()),
    noise,
    batch: { x: tf.tensor4d(X, [B, ...SHAPE]), y: tf.tensor1d(Y, 'int32') },
  };
}

function runStep(recipe: ClassifierRecipe, f: Fixture): Record<string, number> {
  const opt = createOptimizer({ kind: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 0.01 }, recipe.variableGroups()['main']!);
  const before = tf.memory().numTensors;
  const m = recipe.step(f.batch, { main: opt }, SEED);
  assert.equal(tf.memory().numTensors, before, 'step must not leak tensors');
  opt.dispose();
  return m;
}

function close(actual: number, expected: number, what: string, tol = 2e-5): void {
  assert.ok(Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)), `${what}: got ${actual}, expected ${expected}`);
}

function cleanup(f: Fixture): void {
  tf.dispose([f.batch.x, f.batch.y]);
  f.net.dispose();
}

test('training PGD (spec §3.2) equals a float64 re-implementation and stays in the eps-ball ∩ [0,1]', () => {
  const f = fixture(11);
  const xa = trainingAttack((x) => f.net.apply(x, false) as tf.Tensor2D, f.batch.x, f.batch.y, { kind: 'ce' }, ATTACK, SEED);
  const got = xa.dataSync();
  const want = pgd64(f.x, Y, f.W, f.b, 'ce', f.noise).flat();
  let moved = 0;
  for (let i = 0; i < got.length; i++) {
    close(got[i]!, want[i]!, `x_adv[${i}]`, 1e-5);
    assert.ok(got[i]! >= 0 && got[i]! <= 1);
    assert.ok(Math.abs(got[i]! - X[i]!) <= ATTACK.eps + 1e-6);
    if (Math.abs(got[i]! - X[i]!) > 0.05) moved++;
  }
  assert.ok(moved > got.length / 2, 'the attack should move most pixels by more than one step');
  xa.dispose();
  cleanup(f);
});

test('natural recipe: loss = mean CE and the SGD update uses the closed-form gradient + weight decay', () => {
  const f = fixture(12);
  const m = runStep(new NaturalRecipe(f.net), f);
  const z = logits64(f.x, f.W, f.b);
  close(m['loss']!, mean(z.map((zr, r) => ce64(zr, Y[r]!))), 'natural loss');
  // dL/dW = X^T (P - Y) / B; first SGD step with momentum buffer 0: W' = W - lr (g + wd W).
  const Wnew = readMat(f.net.W, D, K);
  for (let i = 0; i < D; i++) {
    for (let k = 0; k < K; k++) {
      const g = mean(z.map((zr, r) => f.x[r]![i]! * (softmax64(zr)[k]! - (k === Y[r] ? 1 : 0))));
      close(Wnew[i]![k]!, f.W[i]![k]! - 0.1 * (g + 0.01 * f.W[i]![k]!), `W[${i}][${k}]`, 1e-5);
    }
  }
  cleanup(f);
});

test('standard AT recipe: loss = mean CE at the PGD-10-style adversarial batch', () => {
  const f = fixture(13);
  const m = runStep(new StandardRecipe(f.net, { attack: ATTACK }), f);
  const za = logits64(pgd64(f.x, Y, f.W, f.b, 'ce', f.noise), f.W, f.b);
  close(m['loss']!, mean(za.map((zr, r) => ce64(zr, Y[r]!))), 'standard loss');
  cleanup(f);
});

test('TRADES recipe: loss = CE(f(x)) + 6 · mean KL(p(x) || p(x_adv)) with the KL-PGD batch', () => {
  const f = fixture(14);
  const m = runStep(new TradesRecipe(f.net, { attack: ATTACK }), f);
  const zn = logits64(f.x, f.W, f.b);
  const za = logits64(pgd64(f.x, Y, f.W, f.b, 'kl', f.noise), f.W, f.b);
  const ceNat = mean(zn.map((zr, r) => ce64(zr, Y[r]!)));
  const kl = mean(zn.map((zr, r) => kl64(softmax64(zr), softmax64(za[r]!))));
  assert.ok(kl > 1e-3, `the KL term should be non-trivial (got ${kl})`);
  close(m['lossNatural']!, ceNat, 'TRADES CE');
  close(m['lossRobust']!, kl, 'TRADES KL');
  close(m['loss']!, ceNat + 6 * kl, 'TRADES total');
  cleanup(f);
});

test("MART recipe: loss = boosted CE + 6 · mean KL · (1 - p_y) with the reference's constants", () => {
  const f = fixture(15);
  const m = runStep(new MartRecipe(f.net, { attack: ATTACK }), f);
  const pn = logits64(f.x, f.W, f.b).map(softmax64);
  const za = logits64(pgd64(f.x, Y, f.W, f.b, 'ce', f.noise), f.W, f.b);
  const pa = za.map(softmax64);
  const bce = mean(
    za.map((zr, r) => {
      const wrong = pa[r]!.map((p, k) => (k === Y[r] ? -1 : p));
      const pStar = Math.max(...wrong);
      return ce64(zr, Y[r]!) - Math.log(1.0001 - pStar + 1e-12);
    }),
  );
  const robust = mean(
    pn.map((p, r) => p.reduce((s, pk, k) => s + pk * (Math.log(pk) - Math.log(pa[r]![k]! + 1e-12)), 0) * (1.0000001 - p[Y[r]!]!)),
  );
  close(m['lossAdv']!, bce, 'MART boosted CE');
  close(m['lossRobust']!, robust, 'MART weighted KL');
  close(m['loss']!, bce + 6 * robust, 'MART total');
  cleanup(f);
});

test('MMA-lite recipe: CE on x for misclassified, CE on x_adv for correctly classified examples', () => {
  const f = fixture(16);
  const zn = logits64(f.x, f.W, f.b);
  const correct = zn.map((zr, r) => (zr.indexOf(Math.max(...zr)) === Y[r] ? 1 : 0));
  assert.ok(correct.includes(0) && correct.includes(1), `fixture must mix correct and wrong clean predictions (${correct})`);
  const m = runStep(new MmaRecipe(f.net, { attack: ATTACK }), f);
  const za = logits64(pgd64(f.x, Y, f.W, f.b, 'ce', f.noise), f.W, f.b);
  const want = mean(zn.map((zr, r) => (correct[r] ? ce64(za[r]!, Y[r]!) : ce64(zr, Y[r]!))));
  close(m['loss']!, want, 'MMA-lite loss');
  cleanup(f);
});

test('recipes reject bad options with the option name', () => {
  const net = new TinyLinear(SHAPE, K, 17);
  assert.throws(() => new TradesRecipe(net, { beta: -1 }), /beta/);
  assert.throws(() => new StandardRecipe(net, { attack: { ...ATTACK, steps: 1.5 } }), /steps/);
  net.dispose();
});
