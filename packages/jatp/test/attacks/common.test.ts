import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import {
  ascentStep,
  crossEntropyPerExample,
  cwMarginPerExample,
  dlrPerExample,
  ensureGradients,
  lossAndGrad,
  projectL2,
  projectLinf,
  randomStart,
  targetedDlrPerExample,
} from '../../src/attacks/ball-and-losses.js';

before(async () => {
  await tf.setBackend('cpu');
  ensureGradients();
});

// float64 references -------------------------------------------------------------------------------
const sortDesc = (z: number[]) => [...z].sort((a, b) => b - a);
function ce64(z: number[], y: number): number {
  const m = Math.max(...z);
  return -(z[y]! - m - Math.log(z.reduce((s, v) => s + Math.exp(v - m), 0)));
}
function cw64(z: number[], y: number): number {
  return Math.max(...z.filter((_, i) => i !== y)) - z[y]!;
}
function dlr64(z: number[], y: number): number {
  const s = sortDesc(z);
  return -(z[y]! - Math.max(...z.filter((_, i) => i !== y))) / (s[0]! - s[2]! + 1e-12);
}
function dlrT64(z: number[], y: number, t: number): number {
  const s = sortDesc(z);
  return -(z[y]! - z[t]!) / (s[0]! - 0.5 * (s[2]! + s[3]!) + 1e-12);
}

const LOGITS = [
  [3, 2, 1, 0, -1],
  [0.5, 2.5, -1, 1.5, 0.1],
  [-2, -1, 4, 3.9, 0],
  [1, 1, 1, 0, 2],
];
const LABELS = [0, 1, 3, 2];
const TARGETS = [2, 4, 2, 0];

test('CE, CW margin, DLR and targeted DLR match float64 references', () => {
  const z = tf.tensor2d(LOGITS);
  const y = tf.tensor1d(LABELS, 'int32');
  const t = tf.tensor1d(TARGETS, 'int32');
  const got = {
    ce: crossEntropyPerExample(z, y).dataSync(),
    cw: cwMarginPerExample(z, y).dataSync(),
    dlr: dlrPerExample(z, y).dataSync(),
    dlrT: targetedDlrPerExample(z, y, t).dataSync(),
  };
  LOGITS.forEach((row, i) => {
    assert.ok(Math.abs(got.ce[i]! - ce64(row, LABELS[i]!)) < 1e-5, `ce ${i}`);
    assert.ok(Math.abs(got.cw[i]! - cw64(row, LABELS[i]!)) < 1e-5, `cw ${i}`);
    assert.ok(Math.abs(got.dlr[i]! - dlr64(row, LABELS[i]!)) < 1e-5, `dlr ${i}`);
    assert.ok(Math.abs(got.dlrT[i]! - dlrT64(row, LABELS[i]!, TARGETS[i]!)) < 1e-5, `dlrT ${i}`);
  });
  tf.dispose([z, y, t]);
});

test('DLR invariants (spec §5c): logits (3,2,1,0) give -0.5 for y=0 and +0.5 for y=1; [-1,0] iff correct', () => {
  const z = tf.tensor2d([[3, 2, 1, 0], [3, 2, 1, 0]]);
  const v = dlrPerExample(z, tf.tensor1d([0, 1], 'int32')).dataSync();
  assert.ok(Math.abs(v[0]! + 0.5) < 1e-6 && Math.abs(v[1]! - 0.5) < 1e-6, `got ${Array.from(v)}`);
  const random = tf.randomNormal([200, 10], 0, 3, 'float32', 1);
  const labels = tf.randomUniform([200], 0, 10, 'int32', 2) as tf.Tensor1D;
  const d = dlrPerExample(random as tf.Tensor2D, labels).dataSync();
  const correct = tf.equal(tf.argMax(random, 1), labels).dataSync();
  for (let i = 0; i < 200; i++) {
    if (correct[i]) assert.ok(d[i]! >= -1 - 1e-6 && d[i]! <= 0, `correct ${i}: ${d[i]}`);
    else assert.ok(d[i]! >= 0, `wrong ${i}: ${d[i]}`);
  }
  tf.dispose([z, random, labels]);
});

test('DLR and targeted DLR gradients match central finite differences in float64', () => {
  const y = 1;
  const t = 3;
  const z0 = [0.3, 1.7, -0.4, 1.1, 0.9];
  const grads = tf.tidy(() => {
    const yT = tf.tensor1d([y], 'int32');
    const tT = tf.tensor1d([t], 'int32');
    const g1 = tf.grad((z: tf.Tensor) => tf.sum(dlrPerExample(z as tf.Tensor2D, yT)))(tf.tensor2d([z0]));
    const g2 = tf.grad((z: tf.Tensor) => tf.sum(targetedDlrPerExample(z as tf.Tensor2D, yT, tT)))(tf.tensor2d([z0]));
    return [Array.from(g1.dataSync()), Array.from(g2.dataSync())];
  });
  const h = 1e-6;
  for (const [k, f] of [
    [0, (z: number[]) => dlr64(z, y)],
    [1, (z: number[]) => dlrT64(z, y, t)],
  ] as const) {
    for (let i = 0; i < z0.length; i++) {
      const plus = [...z0];
      const minus = [...z0];
      plus[i]! += h;
      minus[i]! -= h;
      const fd = (f(plus) - f(minus)) / (2 * h);
      assert.ok(Math.abs(grads[k]![i]! - fd) < 1e-4, `loss ${k} coordinate ${i}: ${grads[k]![i]} vs ${fd}`);
    }
  }
});

test('projections keep the ball and the box; L2 projection scales an outside point onto the sphere', () => {
  const x = tf.randomUniform([6, 4, 4, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
  const far = tf.randomUniform([6, 4, 4, 3], -2, 3, 'float32', 4) as tf.Tensor4D;
  const pi = projectLinf(far, x, 0.1);
  const a = pi.dataSync();
  const b = x.dataSync();
  for (let i = 0; i < a.length; i++) {
    assert.ok(Math.abs(a[i]! - b[i]!) <= 0.1 + 1e-6 && a[i]! >= 0 && a[i]! <= 1);
  }
  const p2 = projectL2(far, x, 0.5);
  const c = p2.dataSync();
  for (let n = 0; n < 6; n++) {
    let s = 0;
    for (let i = n * 48; i < (n + 1) * 48; i++) {
      s += (c[i]! - b[i]!) ** 2;
      assert.ok(c[i]! >= 0 && c[i]! <= 1);
    }
    assert.ok(Math.sqrt(s) <= 0.5 + 1e-5, `L2 ${Math.sqrt(s)}`);
  }
  // without the box (x in the middle, small move): exactly eps * delta / ||delta||
  const mid = tf.fill([1, 2, 2, 1], 0.5) as tf.Tensor4D;
  const moved = tf.add(mid, tf.tensor4d([0.3, 0, 0, 0.4], [1, 2, 2, 1])) as tf.Tensor4D;
  const q = projectL2(moved, mid, 0.1).dataSync();
  assert.deepEqual(Array.from(q).map((v) => Math.round(v * 1e5) / 1e5), [0.56, 0.5, 0.5, 0.58]);
  tf.dispose([x, far, pi, p2, mid, moved]);
});

test('random starts are in the ball and the box and reproducible from the seed', () => {
  const x = tf.randomUniform([4, 5, 5, 1], 0, 1, 'float32', 3) as tf.Tensor4D;
  for (const norm of ['Linf', 'L2'] as const) {
    const a = randomStart(x, norm, 0.2, 42);
    const b = randomStart(x, norm, 0.2, 42);
    const c = randomStart(x, norm, 0.2, 43);
    assert.deepEqual(Array.from(a.dataSync()), Array.from(b.dataSync()));
    assert.notDeepEqual(Array.from(a.dataSync()), Array.from(c.dataSync()));
    const d = tf.tidy(() => tf.sub(a, x));
    const limit = norm === 'Linf' ? tf.max(tf.abs(d)) : tf.max(tf.sqrt(tf.sum(tf.square(tf.reshape(d, [4, -1])), 1)));
    assert.ok(limit.dataSync()[0]! <= 0.2 + 1e-6);
    tf.dispose([a, b, c, d, limit]);
  }
  x.dispose();
});

test('lossAndGrad returns the per-example loss, the logits and d(sum loss)/dx without leaking', () => {
  const w = tf.tensor2d([[1, -1, 0.5], [0.2, 0.3, -0.7], [-0.4, 0.9, 0.1], [0.6, -0.2, 0.3]]);
  const model = (x: tf.Tensor4D) => tf.tidy(() => tf.matMul(tf.reshape(x, [x.shape[0], 4]), w) as tf.Tensor2D);
  const x = tf.tensor4d([0.1, 0.2, 0.3, 0.4, 0.9, 0.8, 0.7, 0.6], [2, 2, 2, 1]);
  const y = tf.tensor1d([2, 0], 'int32');
  const before = tf.memory().numTensors;
  const r = lossAndGrad(model, x, (z) => crossEntropyPerExample(z, y));
  assert.equal(tf.memory().numTensors, before + 3);
  const wv = w.arraySync();
  const xv = x.dataSync();
  const gv = r.grad.dataSync();
  for (let n = 0; n < 2; n++) {
    const z = [0, 1, 2].map((k) => [0, 1, 2, 3].reduce((s, i) => s + xv[n * 4 + i]! * wv[i]![k]!, 0));
    assert.ok(Math.abs(r.loss.dataSync()[n]! - ce64(z, [2, 0][n]!)) < 1e-5);
    const m = Math.max(...z);
    const e = z.map((v) => Math.exp(v - m));
    const p = e.map((v) => v / e.reduce((a, b) => a + b, 0));
    for (let i = 0; i < 4; i++) {
      const g = [0, 1, 2].reduce((s, k) => s + wv[i]![k]! * (p[k]! - (k === [2, 0][n] ? 1 : 0)), 0);
      assert.ok(Math.abs(gv[n * 4 + i]! - g) < 1e-5, `grad ${n},${i}`);
    }
  }
  tf.dispose([r.grad, r.loss, r.logits, w, x, y]);
});

test('ascentStep: L∞ sign step, eps-ball projection and [0,1] clamp, on cpu and (fused) on torch', async () => {
  const torch = (await import('tfjs-backend-torch')) as { torchStatus(): { available: boolean } };
  const n = 2 * 3 * 3 * 1;
  const xv = Array.from({ length: n }, (_, i) => ((i * 37) % 11) / 10);
  const av = xv.map((v, i) => v + (((i * 13) % 7) - 3) / 40);
  const gv = Array.from({ length: n }, (_, i) => (i % 5 === 0 ? 0 : ((i * 29) % 9) - 4));
  const eps = 0.1, step = 0.04;
  // Closed form per element (x in [0, 1], so the two clamps are one clamp to [lo, hi]).
  const want = av.map((a, i) => {
    const lo = Math.max(0, xv[i]! - eps), hi = Math.min(1, xv[i]! + eps);
    return Math.min(hi, Math.max(lo, a + step * Math.sign(gv[i]!)));
  });
  for (const backend of torch.torchStatus().available ? ['cpu', 'torch'] : ['cpu']) {
    await tf.setBackend(backend);
    const before = tf.memory().numTensors;
    const [x, a, g] = [xv, av, gv].map((v) => tf.tensor4d(v, [2, 3, 3, 1]));
    const out = ascentStep(a!, g!, x!, 'Linf', eps, step);
    const got = out.dataSync();
    want.forEach((w, i) => assert.ok(Math.abs(got[i]! - w) < 1e-6, `${backend} [${i}]: ${got[i]} vs ${w}`));
    tf.dispose([x!, a!, g!, out]);
    assert.equal(tf.memory().numTensors, before, `${backend}: leaked tensors`);
  }
  await tf.setBackend('cpu');
});
