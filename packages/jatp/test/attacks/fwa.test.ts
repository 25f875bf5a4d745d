import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { ensureGradients } from '../../src/attacks/ball-and-losses.js';
import { eotModel } from '../../src/attacks/eot.js';
import { fwa, fwaRun } from '../../src/attacks/fwa.js';
import { dualProject, identityPlan, projectSimplex, pullBack, pushForward, transportGeometry } from '../../src/attacks/fwa-transport.js';
import type { LogitsFn } from '../../src/models/types.js';
import { C, H, W, lcg, tinyModels } from './synthetic.js';

// Tiny undefended classifiers on the synthetic 8x8x3 task of ./synthetic.ts.
const N = 12;
let mlp: LogitsFn;
let x: tf.Tensor4D;
let y: tf.Tensor1D;

before(async () => {
  await tf.setBackend('cpu');
  ensureGradients();
  ({ mlp, x, y } = tinyModels(N));
});

function wrongOf(model: LogitsFn, xs: tf.Tensor4D): boolean[] {
  const pred = tf.tidy(() => tf.argMax(model(xs), 1));
  const p = pred.dataSync();
  const t = y.dataSync();
  pred.dispose();
  return Array.from(p, (v, i) => v !== t[i]);
}

const offsetsOf = (kernel: number): Array<[number, number]> => {
  const r = (kernel - 1) / 2;
  const out: Array<[number, number]> = [];
  for (let dh = -r; dh <= r; dh++) for (let dw = -r; dw <= r; dw++) out.push([dh, dw]);
  return out;
};

/**
 * Checks the invariants of spec §5c on a plan for images xs [n, H, W, C] with float64 sums computed
 * here from the definition (independent of fwa-transport.ts): Pi >= -1e-6, rows sum to x, cost within
 * eps * S * (1 + 1e-3), no mass leaves the image, and the transported image (recomputed here) has the
 * mass of x and matches `transported`.
 */
function checkInvariants(plan: tf.Tensor, xs: tf.Tensor4D, transported: tf.Tensor4D, eps: number, kernel: number): void {
  const [n, h, w, c] = xs.shape;
  const k2 = kernel * kernel;
  const offsets = offsetsOf(kernel);
  const p = plan.dataSync();
  const xv = xs.dataSync();
  const tv = transported.dataSync();
  for (let b = 0; b < n; b++) {
    let cost = 0;
    let mass = 0;
    const arrived = new Float64Array(h * w * c);
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        for (let ch = 0; ch < c; ch++) {
          const src = ((b * h + i) * w + j) * c + ch;
          mass += xv[src]!;
          let row = 0;
          offsets.forEach(([dh, dw], o) => {
            const v = p[src * k2 + o]!;
            assert.ok(v >= -1e-6, `negative plan entry ${v}`);
            row += v;
            const ti = i + dh;
            const tj = j + dw;
            if (ti < 0 || ti >= h || tj < 0 || tj >= w) assert.ok(Math.abs(v) <= 1e-7, 'mass sent outside the image');
            else {
              cost += v * Math.hypot(dh, dw);
              arrived[(ti * w + tj) * c + ch] += v;
            }
          });
          assert.ok(Math.abs(row - xv[src]!) <= 1e-5 * Math.max(1, xv[src]!), `row sum ${row} vs x ${xv[src]}`);
        }
      }
    }
    assert.ok(cost <= eps * mass * (1 + 1e-3), `example ${b}: cost ${cost} > budget ${eps * mass}`);
    let massOut = 0;
    for (let q = 0; q < h * w * c; q++) {
      massOut += arrived[q]!;
      assert.ok(Math.abs(arrived[q]! - tv[b * h * w * c + q]!) <= 1e-5, 'pushForward differs from the definition');
    }
    assert.ok(Math.abs(massOut - mass) <= 1e-5 * mass, `mass ${massOut} vs ${mass}`);
  }
}

/** Float64 projection of v onto {p >= 0, sum p = s} by bisection on the threshold. */
function referenceSimplex(v: number[], s: number): number[] {
  if (s <= 0) return v.map(() => 0);
  let lo = Math.min(...v) - s;
  let hi = Math.max(...v);
  for (let it = 0; it < 200; it++) {
    const mid = (lo + hi) / 2;
    const sum = v.reduce((acc, vi) => acc + Math.max(vi - mid, 0), 0);
    if (sum > s) lo = mid;
    else hi = mid;
  }
  return v.map((vi) => Math.max(vi - (lo + hi) / 2, 0));
}

test('fwa: simplex projection matches a float64 bisection reference', () => {
  const rand = lcg(11);
  const rows = 20;
  const m = 9;
  const v = Array.from({ length: rows }, () => Array.from({ length: m }, () => 2 * rand() - 1));
  const s = Array.from({ length: rows }, (_, r) => (r % 5 === 0 ? 0 : rand()));
  const got = tf.tidy(() => projectSimplex(tf.tensor2d(v), tf.tensor1d(s)).arraySync() as number[][]);
  for (let r = 0; r < rows; r++) {
    const ref = referenceSimplex(v[r]!, s[r]!);
    for (let i = 0; i < m; i++) assert.ok(Math.abs(got[r]![i]! - ref[i]!) < 1e-5, `row ${r}: ${got[r]} vs ${ref}`);
  }
});

test('fwa: pullBack is the adjoint of pushForward and pushForward follows its definition', () => {
  const kernel = 3;
  const geo = transportGeometry([2, 5, 4, 2], kernel);
  const rand = lcg(5);
  // A random plan on the allowed offsets only.
  const plan = tf.tensor(Float32Array.from({ length: 2 * 5 * 4 * 2 * 9 }, () => rand()), [2, 5, 4, 2, 9]);
  const masked = tf.mul(plan, geo.valid);
  const g = tf.randomNormal([2, 5, 4, 2], 0, 1, 'float32', 3) as tf.Tensor4D;
  const lhs = tf.tidy(() => tf.sum(tf.mul(pushForward(masked, geo), g)).dataSync()[0]!);
  const rhs = tf.tidy(() => tf.sum(tf.mul(masked, pullBack(g, geo))).dataSync()[0]!);
  assert.ok(Math.abs(lhs - rhs) < 1e-4 * Math.max(1, Math.abs(lhs)), `${lhs} vs ${rhs}`);
  // Row sums of `masked` are its source image; checkInvariants recomputes the transport by hand.
  const source = tf.sum(masked, 4) as tf.Tensor4D;
  const moved = pushForward(masked, geo);
  checkInvariants(masked, source, moved, 1e9, kernel);
  tf.dispose([plan, masked, g, source, moved]);
  geo.dispose();
});

test('fwa: dual projection is the Euclidean projection onto the feasible plans (float64 reference)', () => {
  const kernel = 3;
  const [h, w] = [4, 4];
  const geo = transportGeometry([1, h, w, 1], kernel);
  const rand = lcg(21);
  const xv = Float32Array.from({ length: h * w }, () => rand());
  const xs = tf.tensor4d(xv, [1, h, w, 1]);
  const eps = 0.05;
  const z = tf.tidy(() => tf.add(identityPlan(xs, geo), tf.randomUniform([1, h, w, 1, 9], -0.3, 0.3, 'float32', 8)));
  const budget = tf.tensor1d([eps * xv.reduce((a, b) => a + b, 0)]);
  const plan = dualProject(z, xs, geo, budget, { maxIter: 60, tolerance: 1e-9 });
  const transported = pushForward(plan, geo);
  checkInvariants(plan, xs, transported, eps, kernel);
  // Reference: Pi(lam) = rowwise simplex projection of z - lam * C over the allowed offsets, lam >= 0
  // the smallest value meeting the budget (bisection in float64).
  const zv = z.dataSync();
  const offsets = offsetsOf(kernel);
  const planAt = (lam: number): number[][] => {
    const out: number[][] = [];
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        const allowed = offsets.map(([dh, dw]) => i + dh >= 0 && i + dh < h && j + dw >= 0 && j + dw < w);
        const v = offsets.map(([dh, dw], o) => zv[(i * w + j) * 9 + o]! - lam * Math.hypot(dh, dw)).filter((_, o) => allowed[o]);
        const p = referenceSimplex(v, xv[i * w + j]!);
        let a = 0;
        out.push(allowed.map((ok) => (ok ? p[a++]! : 0)));
      }
    }
    return out;
  };
  const costOf = (p: number[][]) => p.reduce((acc, row) => acc + row.reduce((s, v, o) => s + v * Math.hypot(...offsets[o]!), 0), 0);
  const budgetValue = budget.dataSync()[0]!;
  let ref = planAt(0);
  if (costOf(ref) > budgetValue) {
    let lo = 0;
    let hi = 10;
    for (let it = 0; it < 100; it++) {
      const mid = (lo + hi) / 2;
      if (costOf(planAt(mid)) > budgetValue) lo = mid;
      else hi = mid;
    }
    ref = planAt(hi);
  }
  const got = plan.dataSync();
  ref.forEach((row, q) => row.forEach((v, o) => assert.ok(Math.abs(got[q * 9 + o]! - v) < 1e-4, `entry ${q},${o}: ${got[q * 9 + o]} vs ${v}`)));
  tf.dispose([xs, z, budget, plan, transported]);
  geo.dispose();
});

for (const method of ['pgd', 'fw'] as const) {
  test(`fwa (${method}): spec §5c invariants hold, xAdv = clip01(x'), success agrees with the model`, () => {
    const eps = 0.1;
    const xBefore = Array.from(x.dataSync());
    // lr 0.2: with only a few steps the paper's 0.01 barely moves the tiny model (max-normalised steps).
    const r = fwaRun(mlp, x, y, { eps, steps: 4, method, kernel: 5, lr: 0.2 });
    assert.deepEqual(Array.from(x.dataSync()), xBefore);
    checkInvariants(r.plan, x, r.transported, eps, 5);
    const clipped = tf.tidy(() => tf.clipByValue(r.transported, 0, 1).dataSync());
    assert.deepEqual(Array.from(r.xAdv.dataSync()), Array.from(clipped));
    assert.deepEqual(r.success, wrongOf(mlp, r.xAdv));
    assert.ok(r.success.some(Boolean), 'some example is broken');
    tf.dispose([r.xAdv, r.plan, r.transported]);
  });
}

test('fwa: success is non-decreasing in eps and beats a random transport plan with the same budget', () => {
  const epsList = [0.03, 0.06, 0.1];
  const rates = epsList.map((eps) => {
    const { xAdv, success } = fwa({ eps, steps: 5, kernel: 3, lr: 0.2 }).run(mlp, x, y);
    xAdv.dispose();
    return success.filter(Boolean).length / N;
  });
  for (let i = 1; i < rates.length; i++) assert.ok(rates[i]! >= rates[i - 1]!, `rates ${rates.join(', ')}`);
  // Random noise of the same "norm": a random direction projected onto the same Wasserstein ball.
  const eps = epsList[2]!;
  const geo = transportGeometry([N, H, W, C], 3);
  const noisy = tf.tidy(() => {
    const budget = tf.mul(tf.sum(tf.reshape(x, [N, -1]), 1), eps) as tf.Tensor1D;
    const z = tf.add(identityPlan(x, geo), tf.randomUniform([N, H, W, C, 9], 0, 1, 'float32', 4));
    const plan = dualProject(z, x, geo, budget, { maxIter: 30, tolerance: 1e-6 });
    return tf.clipByValue(pushForward(plan, geo), 0, 1) as tf.Tensor4D;
  });
  geo.dispose();
  const noiseRate = wrongOf(mlp, noisy).filter(Boolean).length / N;
  noisy.dispose();
  assert.ok(rates[2]! >= noiseRate + 0.5, `fwa ${rates[2]} vs random transport ${noiseRate}`);
});

test('fwa: deterministic', () => {
  const attack = fwa({ eps: 0.05, steps: 3, kernel: 3 });
  const a = attack.run(mlp, x, y, 1);
  const b = attack.run(mlp, x, y, 1);
  assert.deepEqual(Array.from(a.xAdv.dataSync()), Array.from(b.xAdv.dataSync()));
  assert.deepEqual(a.success, b.success);
  tf.dispose([a.xAdv, b.xAdv]);
});

test('fwa: an EOT model whose draws are all the same deterministic model gives the plain result', () => {
  const attack = fwa({ eps: 0.06, steps: 3, kernel: 3, lr: 0.2 });
  const plain = attack.run(mlp, x, y);
  const eot = attack.run(eotModel((inp) => mlp(inp), { samples: 2 }), x, y);
  const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(plain.xAdv, eot.xAdv))).dataSync()[0]!);
  assert.ok(diff < 1e-5, `max difference ${diff}`);
  assert.deepEqual(eot.success, plain.success);
  tf.dispose([plain.xAdv, eot.xAdv]);
});

test('fwa: does not leak tensors', () => {
  for (const method of ['pgd', 'fw'] as const) {
    const before = tf.memory().numTensors;
    const { xAdv } = fwa({ eps: 0.05, steps: 2, kernel: 3, method }).run(mlp, x, y);
    xAdv.dispose();
    assert.equal(tf.memory().numTensors, before, method);
  }
});

test('fwa: bad options and shapes are rejected with a clear message', () => {
  assert.throws(() => fwa({ kernel: 4 }), /kernel must be an odd integer/);
  assert.throws(() => fwa({ method: 'sgd' as 'pgd' }), /method/);
  assert.throws(() => fwa({ lr: 0 }), /lr/);
  const yBad = tf.tensor1d([0, 1], 'int32');
  assert.throws(() => fwa().run(mlp, x, yBad), /y must have shape/);
  yBad.dispose();
});
