/**
 * The engine's fused training kernels against PyTorch itself, not a transcription of its formulas:
 * sgdMomentumStep against torch.optim.SGD (momentum, L2 weight decay, no Nesterov, as the
 * toolkit's SgdMomentum uses it), adamStep against torch.optim.Adam (bias correction, L2 weight
 * decay), over several steps with a learning-rate change; batchNormTraining against
 * F.batch_norm(training=True): output, the running statistics' update (unbiased variance) and the
 * gradients through the batch statistics. Both sides compute in float32. The reference runs in
 * Debian's python3-torch (fixtures/torch_reference.py): skipped, with the reason, where it is not
 * installed, except under CI=true, where .ci/run installs it and its absence fails.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { adamStep, batchNormTraining, fusedOpsAvailable, sgdMomentumStep } from '../src/index.js';
import { randomValues, skipReason, tf } from './nn_helpers.js';

const PY = process.env.JATP_PYTHON ?? '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./fixtures/torch_reference.py', import.meta.url));
const probe = spawnSync(PY, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
const pyTorchVersion = probe.status === 0 ? probe.stdout.trim() : undefined;
const noPyTorch = `${PY} cannot import torch (apt-get install python3-torch, or ./bootstrap.sh --with-pytorch)`;
// Under CI the test runs without torch, and fails saying so.
const skip = skipReason() ?? (pyTorchVersion || process.env.CI === 'true' ? false : noPyTorch);

interface Named { shape: number[]; values: number[] }
type Flat = number[];

function seeded(shape: number[], seed: number, scale = 1, shift = 0): Named {
  const n = shape.reduce((a, b) => a * b, 1);
  return { shape, values: Array.from(randomValues(n, seed), (v) => v * scale + shift) };
}

const LRS = [0.1, 0.1, 0.02];
const SHAPES = [[3, 2], [5], [2, 3, 3, 4]];
const params = SHAPES.map((s, i) => seeded(s, 10 + i));
const grads = LRS.map((_, step) => SHAPES.map((s, i) => seeded(s, 100 * (step + 1) + i).values));

const CASES = {
  sgd: { kind: 'sgd', params, grads, lr: LRS, momentum: 0.9, weight_decay: 0.05 },
  sgdNoDecay: { kind: 'sgd', params, grads, lr: LRS, momentum: 0.8, weight_decay: 0 },
  adam: { kind: 'adam', params, grads, lr: [0.01, 0.01, 0.002], beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.01 },
  adamNoDecay: { kind: 'adam', params, grads, lr: [0.05, 0.05, 0.01], beta1: 0.8, beta2: 0.95, eps: 1e-6, weight_decay: 0 },
  bn: {
    kind: 'bn', x: seeded([4, 3, 3, 3], 7, 2, 0.3), scale: seeded([3], 8, 0.5, 1).values, offset: seeded([3], 9).values,
    running_mean: seeded([3], 11, 0.2).values, running_var: seeded([3], 12, 0.5, 1.5).values,
    momentum: 0.1, eps: 1e-5, dy: seeded([4, 3, 3, 3], 13).values,
  },
  bnRank2: { kind: 'bn', x: seeded([7, 3], 21, 1, 0.2), momentum: 0.1, eps: 1e-3, dy: seeded([7, 3], 22).values },
} as const;
type CaseName = keyof typeof CASES;

let reference: Record<CaseName, Record<string, Flat[] | Flat>> | undefined;

before(() => {
  if (skip !== false || !pyTorchVersion) return;
  const names = Object.keys(CASES) as CaseName[];
  const r = spawnSync(PY, [SCRIPT], { input: JSON.stringify({ cases: names.map((n) => CASES[n]) }), encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, `${SCRIPT} failed: ${r.stderr}`);
  const out = JSON.parse(r.stdout) as Array<Record<string, Flat[] | Flat>>;
  reference = Object.fromEntries(names.map((n, i) => [n, out[i]!])) as typeof reference;
});

/** The reference results of a case; fails (rather than skips) where CI requires PyTorch. */
function ref(name: CaseName): Record<string, Flat[] | Flat> {
  if (!pyTorchVersion) assert.fail(`CI=true, but ${noPyTorch}`);
  return reference![name];
}

function assertClose(label: string, got: ArrayLike<number>, want: Flat, rtol: number, atol: number): void {
  assert.equal(got.length, want.length, `${label}: length`);
  let worst = 0, at = -1;
  for (let i = 0; i < want.length; i++) {
    const excess = Math.abs(got[i]! - want[i]!) - (atol + rtol * Math.abs(want[i]!));
    if (!(excess <= worst)) { worst = excess; at = i; }
  }
  assert.ok(at < 0, `${label}[${at}]: engine ${got[at]}, torch ${want[at]} (rtol ${rtol}, atol ${atol})`);
}

async function onTorch(): Promise<void> {
  await tf.setBackend('torch');
  assert.ok(fusedOpsAvailable(), 'the fused kernels are registered on torch (this test checks them, not the TS fallback)');
}

function variables(): tf.Variable[] {
  return tf.tidy(() => params.map((p) => tf.variable(tf.tensor(p.values, p.shape))));
}
const zeros = (): tf.Variable[] => tf.tidy(() => SHAPES.map((s) => tf.variable(tf.zeros(s))));

for (const name of ['sgd', 'sgdNoDecay'] as const) {
  test(`sgdMomentumStep equals torch.optim.SGD over 3 steps with an lr change (${name}: momentum ${CASES[name].momentum}, weight decay ${CASES[name].weight_decay})`, { skip }, async () => {
    const want = ref(name);
    await onTorch();
    const before = tf.memory().numTensors;
    const c = CASES[name];
    const ps = variables(), vs = zeros();
    c.grads.forEach((gStep, step) => {
      const gs = gStep.map((g, i) => tf.tensor(g, SHAPES[i]));
      sgdMomentumStep(ps, vs, gs, { lr: c.lr[step]!, momentum: c.momentum, weightDecay: c.weight_decay });
      tf.dispose(gs);
    });
    ps.forEach((p, i) => assertClose(`param ${i}`, p.dataSync(), (want.params as Flat[])[i]!, 1e-5, 1e-6));
    vs.forEach((v, i) => assertClose(`momentum buffer ${i}`, v.dataSync(), (want.buffers as Flat[])[i]!, 1e-5, 1e-6));
    tf.dispose([...ps, ...vs]);
    assert.equal(tf.memory().numTensors, before, 'leaked tensors');
  });
}

for (const name of ['adam', 'adamNoDecay'] as const) {
  test(`adamStep equals torch.optim.Adam over 3 steps with an lr change (${name}: betas ${CASES[name].beta1}/${CASES[name].beta2}, weight decay ${CASES[name].weight_decay})`, { skip }, async () => {
    const want = ref(name);
    await onTorch();
    const before = tf.memory().numTensors;
    const c = CASES[name];
    const ps = variables(), ms = zeros(), vs = zeros();
    c.grads.forEach((gStep, step) => {
      const gs = gStep.map((g, i) => tf.tensor(g, SHAPES[i]));
      adamStep(ps, ms, vs, gs, { lr: c.lr[step]!, beta1: c.beta1, beta2: c.beta2, epsilon: c.eps, weightDecay: c.weight_decay, step: step + 1 });
      tf.dispose(gs);
    });
    ps.forEach((p, i) => assertClose(`param ${i}`, p.dataSync(), (want.params as Flat[])[i]!, 1e-5, 1e-6));
    ms.forEach((m, i) => assertClose(`exp_avg ${i}`, m.dataSync(), (want.exp_avg as Flat[])[i]!, 1e-5, 1e-7));
    vs.forEach((v, i) => assertClose(`exp_avg_sq ${i}`, v.dataSync(), (want.exp_avg_sq as Flat[])[i]!, 1e-5, 1e-9));
    tf.dispose([...ps, ...ms, ...vs]);
    assert.equal(tf.memory().numTensors, before, 'leaked tensors');
  });
}

test('batchNormTraining equals F.batch_norm(training=True): output, running statistics (unbiased variance), gradients w.r.t. x, scale, offset', { skip }, async () => {
  const want = ref('bn');
  await onTorch();
  const before = tf.memory().numTensors;
  const c = CASES.bn;
  const x = tf.tensor(c.x.values, c.x.shape);
  const [s, o, rm, rv] = [c.scale, c.offset, c.running_mean, c.running_var].map((v) => tf.tensor1d(v));
  const dy = tf.tensor(c.dy, c.x.shape);
  const bn = (xx: tf.Tensor, ss: tf.Tensor, oo: tf.Tensor) => batchNormTraining(xx, {
    scale: ss as tf.Tensor1D, offset: oo as tf.Tensor1D, runningMean: rm as tf.Tensor1D, runningVariance: rv as tf.Tensor1D,
    momentum: c.momentum, epsilon: c.eps,
  });
  const fwd = bn(x, s!, o!);
  const [dx, ds, dof] = tf.grads((xx: tf.Tensor, ss: tf.Tensor, oo: tf.Tensor) => tf.tidy(() => {
    const r = bn(xx, ss, oo);
    tf.dispose([r.runningMean!, r.runningVariance!]);
    return tf.sum(tf.mul(r.y, dy));
  }))([x, s!, o!]);
  assertClose('y', fwd.y.dataSync(), want.y as Flat, 1e-5, 1e-5);
  assertClose('running mean', fwd.runningMean!.dataSync(), want.running_mean as Flat, 1e-5, 1e-6);
  assertClose('running variance', fwd.runningVariance!.dataSync(), want.running_var as Flat, 1e-5, 1e-6);
  assertClose('dx', dx!.dataSync(), want.dx as Flat, 1e-4, 1e-5);
  assertClose('dscale', ds!.dataSync(), want.dscale as Flat, 1e-4, 1e-5);
  assertClose('doffset', dof!.dataSync(), want.doffset as Flat, 1e-4, 1e-5);
  tf.dispose([x, s!, o!, rm!, rv!, dy, fwd.y, fwd.runningMean!, fwd.runningVariance!, dx!, ds!, dof!]);
  assert.equal(tf.memory().numTensors, before, 'leaked tensors');
});

test('batchNormTraining on rank 2 without scale, offset or running statistics equals F.batch_norm: output and dx', { skip }, async () => {
  const want = ref('bnRank2');
  await onTorch();
  const c = CASES.bnRank2;
  const x = tf.tensor(c.x.values, c.x.shape);
  const dy = tf.tensor(c.dy, c.x.shape);
  const y = batchNormTraining(x, { momentum: c.momentum, epsilon: c.eps }).y;
  const dx = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(batchNormTraining(xx, { momentum: c.momentum, epsilon: c.eps }).y, dy)))(x);
  assertClose('y', y.dataSync(), want.y as Flat, 1e-5, 1e-5);
  assertClose('dx', dx.dataSync(), want.dx as Flat, 1e-4, 1e-5);
  tf.dispose([x, dy, y, dx]);
});
