/**
 * The fused training/attack calls of src/fused.ts on torch: training-mode batch norm (forward,
 * running statistics, gradients through the batch statistics) and the L-infinity step against
 * the same math composed from tfjs ops on the cpu backend; the optimizer steps against float64
 * closed forms of torch.optim.SGD / Adam. Each must dispatch exactly one kernel. The same kernels
 * against PyTorch itself: torch_reference.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { adamStep, apgdLinfStep, batchNormTraining, linfStep, sgdMomentumStep } from '../src/index.js';
import { expectSameAsCpu, kernelsRun, randomValues, skipReason, tf } from './nn_helpers.js';

const skip = skipReason();
const C = 3;
const x4 = { shape: [4, 3, 3, C], shift: 0.3, scale: 2 };
const vec = (shift = 0, scale = 1) => ({ shape: [C], shift, scale });

test('batchNormTraining: output and updated running statistics match the composed ops', { skip }, async () => {
  await expectSameAsCpu('bn train forward', [x4, vec(1, 0.5), vec(), vec(), vec(1.5, 0.5)], (x, s, o, rm, rv) => {
    const r = batchNormTraining(x, { scale: s as tf.Tensor1D, offset: o as tf.Tensor1D, runningMean: rm as tf.Tensor1D,
      runningVariance: rv as tf.Tensor1D, momentum: 0.1, epsilon: 1e-5 });
    return [r.y, r.runningMean!, r.runningVariance!];
  });
  await expectSameAsCpu('bn train batch statistics', [x4, vec(1, 0.5), vec()], (x, s, o) => {
    const r = batchNormTraining(x, { scale: s as tf.Tensor1D, offset: o as tf.Tensor1D, momentum: 0.1, epsilon: 1e-5, withBatchStatistics: true });
    return [r.y, r.batchMean!, r.batchVariance!];
  });
  await expectSameAsCpu('bn train forward, rank 2, no parameters', [{ shape: [7, C], shift: 0.2 }],
    (x) => batchNormTraining(x, { momentum: 0.1, epsilon: 1e-3 }).y);
});

test('batchNormTraining: gradients w.r.t. x, scale and offset (through the batch moments)', { skip }, async () => {
  await expectSameAsCpu('bn train grads', [x4, vec(1, 0.5), vec(), x4], (x, s, o, r) =>
    tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
      tf.sum(tf.mul(batchNormTraining(a, { scale: b as tf.Tensor1D, offset: c as tf.Tensor1D, momentum: 0.1, epsilon: 1e-5 }).y, r)))([x, s, o]),
  { rtol: 2e-4 });
});

test('batchNormTraining is one kernel forward and one backward on torch', { skip }, async () => {
  await tf.setBackend('torch');
  const x = tf.randomNormal([2, 4, 4, C]);
  const s = tf.ones([C]) as tf.Tensor1D;
  const names = await kernelsRun(() => tf.grad((a: tf.Tensor) => tf.sum(batchNormTraining(a, { scale: s, momentum: 0.1, epsilon: 1e-5 }).y))(x));
  assert.equal(names.filter((n) => n === 'TorchBatchNormTrain').length, 1, names.join(','));
  assert.equal(names.filter((n) => n === 'TorchBatchNormTrainGrad').length, 1, names.join(','));
  assert.ok(!names.includes('Mean') && !names.includes('SquaredDifference'), names.join(','));
  tf.dispose([x, s]);
});

test('linfStep matches the composed step, NaN gradients included', { skip }, async () => {
  await expectSameAsCpu('linf step', [{ shape: [2, 4, 4, 1], shift: 0.5, scale: 0.5 }, { shape: [2, 4, 4, 1] }, { shape: [2, 4, 4, 1], shift: 0.5, scale: 0.5 }],
    (x, g, x0) => {
      const gNan = tf.where(tf.greater(g, 0.9), tf.fill(g.shape, NaN), g);
      return linfStep(x, gNan, x0, 0.05, 0.1, 0, 1);
    });
});

test('apgdLinfStep matches the composed APGD update (per-example step sizes, momentum)', { skip }, async () => {
  const img = (shift: number, scale: number) => ({ shape: [3, 4, 4, 2], shift, scale });
  await expectSameAsCpu('apgd step', [img(0.5, 0.45), img(0.5, 0.45), img(0, 1), img(0.5, 0.45), { shape: [3, 1, 1, 1], shift: 0.1, scale: 0.05 }],
    (xCur, xPrev, g, x0, step) => apgdLinfStep(xCur, xPrev, g, x0, step, 0.75, 0.08, 0, 1));
  await tf.setBackend('torch');
  const t = tf.ones([1, 2, 2, 1]);
  const names = await kernelsRun(() => apgdLinfStep(t, t, t, t, tf.scalar(0.1), 1, 0.1));
  assert.deepEqual(names.filter((n) => n !== 'Identity'), ['TorchApgdLinfStep']);
  t.dispose();
});

/** Float64 values of a seeded tensor, and the float32 tensor itself. */
function seeded(shape: number[], seed: number): { t: tf.Tensor; v: Float64Array } {
  const f = randomValues(shape.reduce((a, b) => a * b, 1), seed);
  return { t: tf.tensor(f, shape), v: Float64Array.from(f) };
}

function assertClose(label: string, got: tf.Tensor, want: Float64Array, tol = 1e-6): void {
  const g = got.dataSync();
  for (let i = 0; i < want.length; i++) {
    assert.ok(Math.abs(g[i] - want[i]) <= tol * (1 + Math.abs(want[i])), `${label}[${i}]: ${g[i]} vs ${want[i]}`);
  }
}

test('sgdMomentumStep: two steps equal torch.optim.SGD (momentum, weight decay) in float64', { skip }, async () => {
  await tf.setBackend('torch');
  const before = tf.memory().numTensors;
  const shapes = [[3, 2], [5]];
  const ps = shapes.map((s, i) => seeded(s, 10 + i));
  const params = ps.map((p) => tf.variable(p.t));
  const vel = shapes.map((s) => tf.tidy(() => tf.variable(tf.zeros(s))));
  const lr = 0.1, momentum = 0.9, wd = 5e-4;
  const refP = ps.map((p) => Float64Array.from(p.v));
  const refV = shapes.map((s) => new Float64Array(s.reduce((a, b) => a * b, 1)));
  for (let step = 0; step < 2; step++) {
    const gs = shapes.map((s, i) => seeded(s, 100 * step + i));
    const names = await kernelsRun(() => { sgdMomentumStep(params, vel, gs.map((g) => g.t), { lr, momentum, weightDecay: wd }); return []; });
    assert.deepEqual(names, ['TorchSgdMomentumUpdate']);
    gs.forEach((g, i) => {
      for (let k = 0; k < g.v.length; k++) {
        const gg = g.v[k]! + wd * refP[i]![k]!;
        refV[i]![k] = momentum * refV[i]![k]! + gg;
        refP[i]![k] = refP[i]![k]! - lr * refV[i]![k]!;
      }
    });
    tf.dispose(gs.map((g) => g.t));
  }
  params.forEach((p, i) => { assertClose(`param ${i}`, p, refP[i]!); assertClose(`velocity ${i}`, vel[i]!, refV[i]!); });
  tf.dispose([...params, ...vel, ...ps.map((p) => p.t)]);
  assert.equal(tf.memory().numTensors, before, 'leaked tensors');
});

test('adamStep: three steps equal torch.optim.Adam (bias correction, weight decay) in float64', { skip }, async () => {
  await tf.setBackend('torch');
  const before = tf.memory().numTensors;
  const shape = [4, 3];
  const p0 = seeded(shape, 7);
  const param = tf.variable(p0.t);
  const m = tf.tidy(() => tf.variable(tf.zeros(shape)));
  const v = tf.tidy(() => tf.variable(tf.zeros(shape)));
  const o = { lr: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01 };
  const rp = Float64Array.from(p0.v), rm = new Float64Array(rp.length), rv = new Float64Array(rp.length);
  for (let step = 1; step <= 3; step++) {
    const g = seeded(shape, 50 + step);
    adamStep([param], [m], [v], [g.t], { ...o, step });
    for (let k = 0; k < rp.length; k++) {
      const gg = g.v[k]! + o.weightDecay * rp[k]!;
      rm[k] = o.beta1 * rm[k]! + (1 - o.beta1) * gg;
      rv[k] = o.beta2 * rv[k]! + (1 - o.beta2) * gg * gg;
      const mh = rm[k]! / (1 - o.beta1 ** step);
      rp[k] = rp[k]! - o.lr * mh / (Math.sqrt(rv[k]!) / Math.sqrt(1 - o.beta2 ** step) + o.epsilon);
    }
    g.t.dispose();
  }
  assertClose('param', param, rp, 2e-6);
  assertClose('m', m, rm);
  assertClose('v', v, rv);
  tf.dispose([param, m, v, p0.t]);
  assert.equal(tf.memory().numTensors, before, 'leaked tensors');
});

test('optimizer steps reject mismatched groups with a clear error', { skip }, async () => {
  await tf.setBackend('torch');
  const p = tf.variable(tf.zeros([2]));
  const v = tf.variable(tf.zeros([3]));
  assert.throws(() => sgdMomentumStep([p], [], [], { lr: 1, momentum: 0, weightDecay: 0 }), /1 parameters but 0/);
  assert.throws(() => sgdMomentumStep([p], [v], [tf.zeros([2])], { lr: 1, momentum: 0, weightDecay: 0 }), /shape/);
  tf.dispose([p, v]);
});

/**
 * Runs `program` on the cpu backend and on torch and asserts equal bits (NaN where NaN): the
 * L-infinity kernels promise float32 arithmetic operation by operation, as the cpu backend's
 * composition does, so any rewrite of them (a one-pass loop, a vectorised one) must keep the bits.
 */
async function expectSameBits(label: string, program: () => tf.Tensor): Promise<void> {
  const values: Float32Array[] = [];
  for (const backend of ['cpu', 'torch']) {
    await tf.setBackend(backend);
    const out = tf.tidy(program);
    values.push(Float32Array.from(out.dataSync() as Float32Array));
    out.dispose();
  }
  const [ref, got] = values as [Float32Array, Float32Array];
  assert.equal(got.length, ref.length, `${label}: sizes`);
  let differ = 0, first = -1;
  for (let i = 0; i < ref.length; i++) {
    if (!Object.is(got[i], ref[i]) && !(Number.isNaN(got[i]) && Number.isNaN(ref[i]))) { differ++; if (first < 0) first = i; }
  }
  assert.equal(differ, 0, `${label}: ${differ} of ${ref.length} values differ, first at ${first}: torch ${got[first]} vs cpu ${ref[first]}`);
}

// An attack-sized batch (300 Fashion-MNIST-shaped images, 235,200 values: several chunks of the
// parallel loop), pixels quantised to 1/64 so that ties with the ball's and the box's edges occur,
// a tenth of the gradient zero and one in a hundred NaN, one step size per image.
const ATTACK_SHAPE = [300, 28, 28, 1];
const ATTACK_SIZE = 300 * 784;
function attackInputs(): { x: tf.Tensor4D; xPrev: tf.Tensor4D; g: tf.Tensor4D; x0: tf.Tensor4D; step: tf.Tensor4D } {
  const q = (v: Float32Array) => v.map((u) => Math.round((u + 1) * 32) / 64);
  const gv = randomValues(ATTACK_SIZE, 7).map((u, i) => (i % 100 === 3 ? NaN : i % 10 === 5 ? 0 : u));
  return {
    x: tf.tensor4d(q(randomValues(ATTACK_SIZE, 3)), ATTACK_SHAPE as [number, number, number, number]),
    xPrev: tf.tensor4d(q(randomValues(ATTACK_SIZE, 4)), ATTACK_SHAPE as [number, number, number, number]),
    g: tf.tensor4d(gv, ATTACK_SHAPE as [number, number, number, number]),
    x0: tf.tensor4d(q(randomValues(ATTACK_SIZE, 5)), ATTACK_SHAPE as [number, number, number, number]),
    step: tf.tensor4d(randomValues(300, 6).map((u) => 0.05 + 0.04 * u), [300, 1, 1, 1]),
  };
}

test('linfStep and apgdLinfStep give the cpu composition\'s bits on an attack-sized batch', { skip }, async () => {
  await expectSameBits('linfStep', () => {
    const { x, g, x0 } = attackInputs();
    return linfStep(x, g, x0, 0.03, 0.1, 0, 1);
  });
  for (const a of [1, 0.75]) {
    await expectSameBits(`apgdLinfStep a=${a}`, () => {
      const { x, xPrev, g, x0, step } = attackInputs();
      return apgdLinfStep(x, xPrev, g, x0, step, a, 0.1, 0, 1);
    });
  }
  // A scalar step size and an eps whose float32 rounding matters (1/255 is not a float32).
  await expectSameBits('apgdLinfStep scalar step', () => {
    const { x, xPrev, g, x0 } = attackInputs();
    return apgdLinfStep(x, xPrev, g, x0, tf.scalar(2 / 255), 0.75, 8 / 255, 0, 1);
  });
});
