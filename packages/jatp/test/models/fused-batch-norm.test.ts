/**
 * Training-mode batch norm of the toolkit's networks as the engine's fused call
 * (models/fused-batch-norm.ts): the same small-cnn, with the same weights and inputs, trained for
 * two steps on the torch backend (fused) and on tfjs's cpu backend (tfjs-layers' stock
 * composition) must agree on the training-mode outputs, the gradients of every trainable variable
 * and the running statistics (keras momentum, biased variance). On torch each BN layer must be one
 * fused kernel forward and one backward, and a step must not leak tensors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { buildNetwork } from '../../src/models/registry.js';
import type { Network } from '../../src/models/types.js';

const torch = (await import('tfjs-backend-torch')) as { torchStatus(): { available: boolean; reason?: string } };
const skip = torch.torchStatus().available ? false : `torch backend unavailable: ${torch.torchStatus().reason}`;

const OPTIONS = { inChannels: 1, inputSize: 8, width: 4 };

/** Deterministic values in [-1, 1) (a small LCG), independent of the backend's RNG. */
function seeded(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

/** Gives every weight seeded values; variances and BN scales stay positive, near 1. */
function setWeights(net: Network): void {
  let seed = 1;
  for (const [name, v] of net.namedWeights()) {
    const vals = seeded(v.size, seed++);
    const positive = name.endsWith('running_var') || (name.includes('bn') && name.endsWith('weight'));
    const shaped = positive ? vals.map((a) => 1 + 0.5 * a) : vals.map((a) => 0.5 * a);
    v.assign(tf.tensor(shaped, v.shape));
  }
}

interface StepRecord { outputs: Float32Array[]; grads: Map<string, Float32Array>; stats: Map<string, Float32Array> }

/** Two training-mode steps (different batches, weights fixed) on `backend`; everything read back. */
async function twoSteps(backend: string): Promise<StepRecord> {
  await tf.setBackend(backend);
  const net = buildNetwork('small-cnn', OPTIONS);
  try {
    setWeights(net);
    const names = new Map([...net.namedWeights()].map(([k, v]) => [v.name, k]));
    const rec: StepRecord = { outputs: [], grads: new Map(), stats: new Map() };
    for (let step = 0; step < 2; step++) {
      const x = tf.tensor4d(seeded(4 * 8 * 8, 100 + step).map((a) => 0.5 + 0.4 * a), [4, 8, 8, 1]);
      let out: tf.Tensor | undefined;
      const { value, grads } = tf.variableGrads(() => {
        const logits = net.apply(x, true);
        out = tf.keep(logits.clone());
        // A weighted sum, so the gradient is not the degenerate one of a plain sum through BN.
        return tf.sum(tf.mul(logits, tf.tensor(seeded(logits.size, 7), logits.shape))) as tf.Scalar;
      }, net.trainableVariables());
      rec.outputs.push(await out!.data() as Float32Array);
      for (const [k, g] of Object.entries(grads)) rec.grads.set(`${step}:${names.get(k) ?? k}`, await g.data() as Float32Array);
      tf.dispose([x, out!, value, ...Object.values(grads)]);
    }
    for (const [k, v] of net.namedWeights()) {
      if (k.endsWith('running_mean') || k.endsWith('running_var')) rec.stats.set(k, await v.data() as Float32Array);
    }
    return rec;
  } finally {
    net.dispose();
  }
}

function assertClose(got: Float32Array, want: Float32Array, what: string, rtol: number): void {
  assert.equal(got.length, want.length, what);
  const rms = Math.sqrt(want.reduce((s, a) => s + a * a, 0) / want.length);
  assert.ok(rms > 0, `${what}: all zeros on cpu, the comparison would prove nothing`);
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i]! - want[i]!);
    assert.ok(err <= rtol * (Math.abs(want[i]!) + rms), `${what}[${i}]: torch ${got[i]} vs cpu ${want[i]}`);
  }
}

test('fused training-mode BN: outputs, gradients and running statistics equal the stock cpu path', { skip }, async () => {
  const cpu = await twoSteps('cpu');
  const fused = await twoSteps('torch');
  cpu.outputs.forEach((o, i) => assertClose(fused.outputs[i]!, o, `logits step ${i}`, 1e-4));
  assert.ok(cpu.grads.size > 0 && cpu.grads.size === fused.grads.size);
  let bnGrads = 0;
  for (const [k, g] of cpu.grads) {
    assertClose(fused.grads.get(k)!, g, `grad ${k}`, 5e-4);
    if (k.includes('bn')) bnGrads++;
  }
  assert.ok(bnGrads > 0, 'no BN parameter gradients compared');
  assert.ok(cpu.stats.size > 0 && cpu.stats.size === fused.stats.size);
  for (const [k, s] of cpu.stats) assertClose(fused.stats.get(k)!, s, k, 1e-5);
});

test('fused training-mode BN: one kernel per BN layer each way on torch, no tensor leak', { skip }, async () => {
  await tf.setBackend('torch');
  const net = buildNetwork('small-cnn', OPTIONS);
  try {
    const bnLayers = [...net.namedWeights().keys()].filter((k) => k.endsWith('running_mean')).length;
    assert.ok(bnLayers > 0);
    const x = tf.randomUniform([4, 8, 8, 1]) as tf.Tensor4D;
    const step = () => {
      const { value, grads } = tf.variableGrads(() => tf.sum(net.apply(x, true)) as tf.Scalar, net.trainableVariables());
      tf.dispose([value, ...Object.values(grads)]);
    };
    step();
    const before = tf.memory().numTensors;
    step();
    assert.equal(tf.memory().numTensors, before, 'tensors leaked by a training step');
    const info = await tf.profile(() => {
      const { value, grads } = tf.variableGrads(() => tf.sum(net.apply(x, true)) as tf.Scalar, net.trainableVariables());
      tf.dispose(Object.values(grads));
      return value;
    });
    const names = info.kernels.map((k) => k.name);
    assert.equal(names.filter((n) => n === 'TorchBatchNormTrain').length, bnLayers, names.join(','));
    assert.equal(names.filter((n) => n === 'TorchBatchNormTrainGrad').length, bnLayers, names.join(','));
    // Inference keeps the stock path (running statistics), no fused training kernel.
    const inf = await tf.profile(() => net.apply(x, false));
    assert.ok(!inf.kernels.some((k) => k.name === 'TorchBatchNormTrain'));
    x.dispose();
  } finally {
    net.dispose();
  }
});
