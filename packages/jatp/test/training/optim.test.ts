/**
 * Our SGD-momentum and Adam against float64 re-implementations of PyTorch's update rules
 * (torch.optim.SGD / torch.optim.Adam with L2 weight decay), over several steps with a learning
 * rate change, and against PyTorch itself (Debian's python3-torch, through the engine's reference
 * script; skipped with the reason where it is absent, failing under CI=true); plus the properties
 * checkpointing relies on (named slots, no tensor leaks). The update rules run on cpu (tfjs ops)
 * and, when the engine loads, on torch, where applyGradients is one fused native call per group.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Adam, SgdMomentum, createOptimizer } from '../../src/training/optim.js';

const torch = (await import('tfjs-backend-torch')) as { torchStatus(): { available: boolean; reason?: string } };
// The torch cases are always registered, and skipped with the reason when the engine is absent.
const BACKENDS = ['cpu', 'torch'] as const;
const skipOn = (backend: string): string | false =>
  backend === 'torch' && !torch.torchStatus().available ? `torch backend unavailable: ${torch.torchStatus().reason}` : false;
await tf.setBackend('cpu');

const P0 = [0.5, -1.25, 2.0, 0.0];
const GRADS = [
  [0.1, -0.2, 0.3, 0.05],
  [-0.4, 0.1, 0.0, 0.2],
  [0.25, 0.25, -0.5, -0.1],
];
const LRS = [0.1, 0.1, 0.01];

function close(a: ArrayLike<number>, b: number[], what: string, tol = 1e-6): void {
  for (let i = 0; i < b.length; i++) {
    assert.ok(Math.abs(a[i]! - b[i]!) <= tol * Math.max(1, Math.abs(b[i]!)), `${what}[${i}]: got ${a[i]}, expected ${b[i]}`);
  }
}

for (const backend of BACKENDS) {
test(`SGD momentum follows torch.optim.SGD: g += wd·p; v = m·v + g; p -= lr·v (${backend})`, { skip: skipOn(backend) }, async () => {
  await tf.setBackend(backend);
  const p = tf.variable(tf.tensor1d(P0), true, 'sgd-test/p');
  const opt = new SgdMomentum([p], { lr: 0.1, momentum: 0.9, weightDecay: 0.05 });
  const before = tf.memory().numTensors;
  let ref = [...P0];
  let v = [0, 0, 0, 0];
  GRADS.forEach((g, t) => {
    opt.learningRate = LRS[t]!;
    const gt = tf.tensor1d(g);
    opt.applyGradients({ [p.name]: gt });
    gt.dispose();
    const gd = g.map((gi, i) => gi + 0.05 * ref[i]!);
    v = t === 0 ? gd : v.map((vi, i) => 0.9 * vi + gd[i]!);
    ref = ref.map((pi, i) => pi - LRS[t]! * v[i]!);
    close(p.dataSync(), ref, `p after step ${t + 1}`);
  });
  assert.equal(tf.memory().numTensors, before, 'applyGradients must not leak');
  assert.deepEqual([...opt.slots().keys()], ['0/momentum']);
  close(opt.slots().get('0/momentum')!.dataSync(), v, 'momentum slot');
  assert.equal(opt.stepCount, 3);
  opt.dispose();
  p.dispose();
});

test(`Adam follows torch.optim.Adam with bias correction and L2 weight decay (${backend})`, { skip: skipOn(backend) }, async () => {
  await tf.setBackend(backend);
  const p = tf.variable(tf.tensor1d(P0), true, 'adam-test/p');
  const opt = new Adam([p], { lr: 0.1, beta1: 0.8, beta2: 0.95, epsilon: 1e-8, weightDecay: 0.01 });
  const before = tf.memory().numTensors;
  let ref = [...P0];
  let m = [0, 0, 0, 0];
  let s = [0, 0, 0, 0];
  GRADS.forEach((g, t) => {
    opt.learningRate = LRS[t]!;
    const gt = tf.tensor1d(g);
    opt.applyGradients([{ name: p.name, tensor: gt }]);
    gt.dispose();
    const gd = g.map((gi, i) => gi + 0.01 * ref[i]!);
    m = m.map((mi, i) => 0.8 * mi + 0.2 * gd[i]!);
    s = s.map((si, i) => 0.95 * si + 0.05 * gd[i]! * gd[i]!);
    const k = t + 1;
    ref = ref.map((pi, i) => pi - (LRS[t]! * (m[i]! / (1 - 0.8 ** k))) / (Math.sqrt(s[i]! / (1 - 0.95 ** k)) + 1e-8));
    close(p.dataSync(), ref, `p after step ${k}`, 2e-6);
  });
  assert.equal(tf.memory().numTensors, before, 'applyGradients must not leak');
  assert.deepEqual([...opt.slots().keys()].sort(), ['0/m', '0/v']);
  close(opt.slots().get('0/v')!.dataSync(), s, 'second moment slot');
  opt.dispose();
  p.dispose();
});
}

test('optimizers reject gradients of foreign variables and bad specs, naming them', async () => {
  await tf.setBackend('cpu');
  const p = tf.variable(tf.scalar(1), true, 'own-var');
  const opt = createOptimizer({ kind: 'sgd', lr: 0.1 }, [p]);
  const g = tf.scalar(1);
  assert.throws(() => opt.applyGradients({ 'someone-else': g }), /someone-else/);
  assert.throws(() => createOptimizer({ kind: 'sgd', lr: -1 }, [p]), /lr/);
  assert.throws(() => createOptimizer({ kind: 'rmsprop', lr: 1 } as never, [p]), /rmsprop/);
  tf.dispose([g, p]);
  opt.dispose();
});

// PyTorch itself: the same gradients and learning rates through torch.optim in float32.
const PY = process.env.JATP_PYTHON ?? '/usr/bin/python3';
const REFERENCE = fileURLToPath(new URL('../../../tfjs-backend-torch/test/fixtures/torch_reference.py', import.meta.url));
const hasTorch = spawnSync(PY, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
const noTorch = `${PY} cannot import torch (apt-get install python3-torch)`;
const SPECS = {
  sgd: { kind: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 0.05 },
  adam: { kind: 'adam', lr: 0.1, beta1: 0.8, beta2: 0.95, epsilon: 1e-8, weightDecay: 0.01 },
} as const;

function torchReference(): Record<'sgd' | 'adam', { params: number[][] }> {
  assert.ok(hasTorch, `CI=true, but ${noTorch}`);
  const common = { params: [{ shape: [4], values: P0 }], grads: GRADS.map((g) => [g]), lr: LRS };
  const cases = [
    { kind: 'sgd', ...common, momentum: SPECS.sgd.momentum, weight_decay: SPECS.sgd.weightDecay },
    { kind: 'adam', ...common, beta1: SPECS.adam.beta1, beta2: SPECS.adam.beta2, eps: SPECS.adam.epsilon, weight_decay: SPECS.adam.weightDecay },
  ];
  const r = spawnSync(PY, [REFERENCE], { input: JSON.stringify({ cases }), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const [sgd, adam] = JSON.parse(r.stdout) as Array<{ params: number[][] }>;
  return { sgd: sgd!, adam: adam! };
}

for (const backend of BACKENDS) {
  test(`SgdMomentum and Adam end where torch.optim.SGD / Adam end, lr changes included (${backend})`,
    { skip: skipOn(backend) || (hasTorch || process.env.CI === 'true' ? false : noTorch) }, async () => {
      const want = torchReference();
      await tf.setBackend(backend);
      for (const kind of ['sgd', 'adam'] as const) {
        const p = tf.variable(tf.tensor1d(P0), true, `torch-ref-${kind}-${backend}/p`);
        const opt = createOptimizer(SPECS[kind], [p]);
        try {
          GRADS.forEach((g, t) => {
            opt.learningRate = LRS[t]!;
            const gt = tf.tensor1d(g);
            opt.applyGradients({ [p.name]: gt });
            gt.dispose();
          });
          close(p.dataSync(), want[kind].params[0]!, `${kind} p after ${GRADS.length} steps vs PyTorch`, 2e-6);
        } finally {
          opt.dispose();
          p.dispose();
        }
      }
    });
}
