import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { boostedCrossEntropyPerExample, boostedCrossEntropy } from '../../src/classifier-losses.js';
import {
  featureSimilarityPerExample,
  pixelLoss,
  jatpLoss,
  hgdGuidanceLoss,
  apegDiscriminatorLoss,
  apegGeneratorLoss,
  relativisticDiscriminatorLoss,
  relativisticGeneratorLoss,
  nrpPurifierLoss,
  binaryCrossEntropyOnProbabilities,
} from '../../src/defenses/purifier-losses.js';
import { ensureGradients } from '../../src/gradients.js';

// Independent float64 references: plain JS arrays, formulas written from spec §2.5 / §4.1–4.3.

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function randArray(n: number, seed: number, scale = 1, offset = 0): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => offset + scale * (2 * r() - 1));
}
function softmax64(row: number[]): number[] {
  const m = Math.max(...row);
  const e = row.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}
function rows(flat: number[], n: number): number[][] {
  const k = flat.length / n;
  return Array.from({ length: n }, (_, i) => flat.slice(i * k, (i + 1) * k));
}
function bce64(logitRow: number[], y: number): number {
  const q = softmax64(logitRow);
  let wrong = -Infinity;
  for (let k = 0; k < q.length; k++) if (k !== y && q[k]! > wrong) wrong = q[k]!;
  return -Math.log(q[y]!) - Math.log(1.0001 - wrong + 1e-12);
}
function mean(a: number[]): number {
  return a.reduce((s, v) => s + v, 0) / a.length;
}
function close(actual: number, expected: number, rel = 1e-4, what = ''): void {
  const tol = rel * Math.max(1, Math.abs(expected));
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: got ${actual}, expected ${expected}`);
}
function softplus64(z: number): number {
  return z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
}

before(async () => {
  await tf.setBackend('cpu');
  ensureGradients();
});

test('boosted CE matches the MART formula in float64, with the true class on top and not on top', () => {
  const n = 6;
  const k = 5;
  const logits = randArray(n * k, 1, 3);
  // Row 0: make the true class the clear winner, so the margin term must use the runner-up.
  logits[0 * k + 2] = 9;
  const labels = [2, 0, 1, 4, 3, 2];
  const start = tf.memory().numTensors;
  const lt = tf.tensor2d(logits, [n, k]);
  const yt = tf.tensor1d(labels, 'int32');
  const perExample = boostedCrossEntropyPerExample(lt, yt);
  const got = Array.from(perExample.dataSync());
  const expected = rows(logits, n).map((r, i) => bce64(r, labels[i]!));
  got.forEach((g, i) => close(g, expected[i]!, 1e-4, `row ${i}`));
  const meanLoss = boostedCrossEntropy(lt, yt);
  close(meanLoss.dataSync()[0]!, mean(expected), 1e-4, 'mean');
  tf.dispose([lt, yt, perExample, meanLoss]);
  assert.equal(tf.memory().numTensors, start, 'no tensor leak');
});

test('feature similarity is the per-example mean of squared differences', () => {
  const shape = [3, 2, 2, 4];
  const size = 3 * 16;
  const a = randArray(size, 2);
  const b = randArray(size, 3);
  const at = tf.tensor4d(a, shape as [number, number, number, number]);
  const bt = tf.tensor4d(b, shape as [number, number, number, number]);
  const got = Array.from(featureSimilarityPerExample(at, bt).dataSync());
  for (let i = 0; i < 3; i++) {
    let s = 0;
    for (let j = 0; j < 16; j++) s += (a[i * 16 + j]! - b[i * 16 + j]!) ** 2;
    close(got[i]!, s / 16, 1e-5, `example ${i}`);
  }
  assert.throws(() => featureSimilarityPerExample(at, tf.zeros([3, 16])), /shapes differ/);
  tf.dispose([at, bt]);
});

test('pixel loss: mse over all elements, l2 = mean per-image Euclidean norm', () => {
  const shape: [number, number, number, number] = [2, 3, 3, 1];
  const p = randArray(18, 4);
  const x = randArray(18, 5);
  const pt = tf.tensor4d(p, shape);
  const xt = tf.tensor4d(x, shape);
  const sq = p.map((v, i) => (v - x[i]!) ** 2);
  close(pixelLoss(pt, xt, 'mse').dataSync()[0]!, mean(sq), 1e-5, 'mse');
  const norms = [0, 1].map((i) => Math.sqrt(sq.slice(i * 9, (i + 1) * 9).reduce((s, v) => s + v, 0)));
  close(pixelLoss(pt, xt, 'l2').dataSync()[0]!, mean(norms), 1e-5, 'l2');
  tf.dispose([pt, xt]);
});

function jatpFixture(): { raw: Record<string, number[]>; labels: number[]; n: number; k: number } {
  const n = 4;
  const k = 3;
  return {
    n,
    k,
    labels: [0, 2, 1, 1],
    raw: {
      logitsAdv: randArray(n * k, 10, 2),
      logitsNat: randArray(n * k, 11, 2),
      featuresAdv: randArray(n * 8, 12),
      featuresNat: randArray(n * 8, 13),
      purifiedAdv: randArray(n * 12, 14, 0.5, 0.5),
      natural: randArray(n * 12, 15, 0.5, 0.5),
    },
  };
}

function jatp64(f: ReturnType<typeof jatpFixture>, alpha: number, beta: number, useBce: boolean): number {
  const { raw, labels, n } = f;
  const la = rows(raw.logitsAdv!, n);
  const ln = rows(raw.logitsNat!, n);
  const fa = rows(raw.featuresAdv!, n);
  const fn = rows(raw.featuresNat!, n);
  let adv = 0;
  for (let i = 0; i < n; i++) {
    const b = useBce ? bce64(la[i]!, labels[i]!) : 0;
    const fsm = mean(fa[i]!.map((v, j) => (v - fn[i]![j]!) ** 2));
    const weight = 1 - softmax64(ln[i]!)[labels[i]!]!;
    adv += b + alpha * fsm * weight;
  }
  const pix = mean(raw.purifiedAdv!.map((v, j) => (v - raw.natural![j]!) ** 2));
  return adv / n + beta * pix;
}

function jatpTensors(f: ReturnType<typeof jatpFixture>) {
  const { raw, labels, n, k } = f;
  return {
    logitsAdv: tf.tensor2d(raw.logitsAdv!, [n, k]),
    logitsNat: tf.tensor2d(raw.logitsNat!, [n, k]),
    featuresAdv: tf.tensor4d(raw.featuresAdv!, [n, 2, 2, 2]),
    featuresNat: tf.tensor4d(raw.featuresNat!, [n, 2, 2, 2]),
    purifiedAdv: tf.tensor4d(raw.purifiedAdv!, [n, 2, 2, 3]),
    natural: tf.tensor4d(raw.natural!, [n, 2, 2, 3]),
    labels: tf.tensor1d(labels, 'int32'),
  };
}

test('JATP loss (Eqs. 6–10) equals BCE + 5·FSM·(1 − p_y(nat)) + 3·pixel in float64, and each ablation drops its term', () => {
  const f = jatpFixture();
  const start = tf.memory().numTensors;
  const inputs = jatpTensors(f);
  const cases: Array<[Parameters<typeof jatpLoss>[1], number]> = [
    [{}, jatp64(f, 5, 3, true)],
    [{ noPixel: true }, jatp64(f, 5, 0, true)],
    [{ noFsm: true }, jatp64(f, 0, 3, true)],
    [{ noBce: true }, jatp64(f, 5, 3, false)],
    [{ alpha: 2, beta: 0.5 }, jatp64(f, 2, 0.5, true)],
  ];
  for (const [options, expected] of cases) {
    const terms = jatpLoss(inputs, options);
    close(terms.total.dataSync()[0]!, expected, 1e-4, JSON.stringify(options));
    tf.dispose([terms.total, terms.bce, terms.weightedFsm, terms.pixel]);
  }
  // The three terms add up as reported.
  const terms = jatpLoss(inputs);
  const [t, b, w, p] = [terms.total, terms.bce, terms.weightedFsm, terms.pixel].map((s) => s.dataSync()[0]!);
  close(t!, b! + 5 * w! + 3 * p!, 1e-5, 'parts');
  tf.dispose([terms.total, terms.bce, terms.weightedFsm, terms.pixel]);
  tf.dispose(Object.values(inputs));
  assert.equal(tf.memory().numTensors, start, 'no tensor leak');
});

test('JATP loss: gradient reaches the natural branch by default and not when detachNatural is set (spec A5)', () => {
  const f = jatpFixture();
  const inputs = jatpTensors(f);
  const gradOfNat = (detach: boolean) => tf.tidy(() => {
    const g = tf.grads((ln: tf.Tensor, fn: tf.Tensor) => jatpLoss(
      { ...inputs, logitsNat: ln as tf.Tensor2D, featuresNat: fn },
      { detachNatural: detach },
    ).total);
    const [gl, gf] = g([inputs.logitsNat, inputs.featuresNat]);
    return [tf.sum(tf.abs(gl!)).dataSync()[0]!, tf.sum(tf.abs(gf!)).dataSync()[0]!];
  });
  const [gl, gf] = gradOfNat(false);
  assert.ok(gl! > 1e-6 && gf! > 1e-6, `expected non-zero natural-branch gradient, got ${gl}, ${gf}`);
  const [dl, df] = gradOfNat(true);
  assert.equal(dl, 0);
  assert.equal(df, 0);
  tf.dispose(Object.values(inputs));
});

test('HGD guidance loss is the mean absolute difference', () => {
  const a = randArray(20, 20, 3);
  const b = randArray(20, 21, 3);
  const at = tf.tensor2d(a, [4, 5]);
  const bt = tf.tensor2d(b, [4, 5]);
  close(hgdGuidanceLoss(at, bt).dataSync()[0]!, mean(a.map((v, i) => Math.abs(v - b[i]!))), 1e-5, 'L1');
  tf.dispose([at, bt]);
});

test('APE-G losses: D = BCE(D(x),1)+BCE(D(G(x_adv)),0); G = 0.7·MSE + 0.3·BCE(D(G),1); log clamped at −100', () => {
  const dReal = [0.9, 0.6, 0.2, 0.75];
  const dFake = [0.1, 0.4, 0.55, 0.3];
  const gen = randArray(8, 30, 0.5, 0.5);
  const nat = randArray(8, 31, 0.5, 0.5);
  const rt = tf.tensor2d(dReal, [4, 1]);
  const ft = tf.tensor2d(dFake, [4, 1]);
  const d64 = mean(dReal.map((p) => -Math.log(p))) + mean(dFake.map((p) => -Math.log(1 - p)));
  close(apegDiscriminatorLoss(rt, ft).dataSync()[0]!, d64, 1e-5, 'D');
  const gt = tf.tensor4d(gen, [2, 2, 2, 1]);
  const nt = tf.tensor4d(nat, [2, 2, 2, 1]);
  const mse = mean(gen.map((v, i) => (v - nat[i]!) ** 2));
  const adv = mean(dFake.map((p) => -Math.log(p)));
  const g = apegGeneratorLoss(gt, nt, ft);
  close(g.total.dataSync()[0]!, 0.7 * mse + 0.3 * adv, 1e-5, 'G');
  // Saturated probabilities: PyTorch BCELoss clamps log(0) to -100.
  const sat = tf.tensor1d([0, 1]);
  close(binaryCrossEntropyOnProbabilities(sat, 1).dataSync()[0]!, (100 + 0) / 2, 1e-6, 'clamp');
  tf.dispose([rt, ft, gt, nt, sat, g.total, g.mse, g.adversarial]);
});

test('NRP relativistic losses and purifier loss match float64', () => {
  const dReal = [1.5, -0.3, 0.8];
  const dFake = [-1.2, 0.4, 0.1];
  const mr = mean(dReal);
  const mf = mean(dFake);
  const bceL = (z: number, t: 0 | 1) => (t === 1 ? softplus64(-z) : softplus64(z));
  const dLoss = (mean(dReal.map((z) => bceL(z - mf, 1))) + mean(dFake.map((z) => bceL(z - mr, 0)))) / 2;
  const gLoss = (mean(dReal.map((z) => bceL(z - mf, 0))) + mean(dFake.map((z) => bceL(z - mr, 1)))) / 2;
  const rt = tf.tensor2d(dReal, [3, 1]);
  const ft = tf.tensor2d(dFake, [3, 1]);
  close(relativisticDiscriminatorLoss(rt, ft).dataSync()[0]!, dLoss, 1e-5, 'D');
  close(relativisticGeneratorLoss(rt, ft).dataSync()[0]!, gLoss, 1e-5, 'G');
  const pur = randArray(12, 40, 0.5, 0.5);
  const nat = randArray(12, 41, 0.5, 0.5);
  const fp = randArray(6, 42);
  const fnat = randArray(6, 43);
  const parts = {
    dReal: rt,
    dFake: ft,
    purified: tf.tensor4d(pur, [3, 2, 2, 1]),
    natural: tf.tensor4d(nat, [3, 2, 2, 1]),
    featuresPurified: tf.tensor2d(fp, [3, 2]),
    featuresNatural: tf.tensor2d(fnat, [3, 2]),
  };
  const expected = 5e-3 * gLoss + 1e-2 * mean(pur.map((v, i) => (v - nat[i]!) ** 2)) + mean(fp.map((v, i) => (v - fnat[i]!) ** 2));
  const out = nrpPurifierLoss(parts);
  close(out.total.dataSync()[0]!, expected, 1e-5, 'NRP total');
  tf.dispose([...Object.values(parts), out.total, out.adversarial, out.pixel, out.feature]);
});
