// APGD-T's and FAB-T's target classes (and APGD's restarts) run as one batch or one after another:
// the results must be the same bits, on the cpu backend, for the same seeds.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { apgdCe, apgdT } from '../../src/attacks/apgd.js';
import { fabT } from '../../src/attacks/fab.js';
import type { Attack } from '../../src/attacks/types.js';
import type { LogitsFn } from '../../src/models/types.js';

before(async () => {
  await tf.setBackend('cpu');
});

/** A seeded 10-class conv net on 8x8x1 images (conv 1->4 k3 s2, ReLU, dense 64->10). */
function tinyCnn(): { model: LogitsFn; weights: tf.Tensor[] } {
  const w1 = tf.randomNormal([3, 3, 1, 4], 0, 0.8, 'float32', 1) as tf.Tensor4D;
  const w2 = tf.randomNormal([64, 10], 0, 0.5, 'float32', 2) as tf.Tensor2D;
  const model: LogitsFn = (x) => tf.tidy(() => tf.matMul(tf.reshape(tf.relu(tf.conv2d(x, w1, 2, 'same')), [x.shape[0], 64]), w2) as tf.Tensor2D);
  return { model, weights: [w1, w2] };
}

function data(n: number, model: LogitsFn): { x: tf.Tensor4D; y: tf.Tensor1D } {
  const x = tf.randomUniform([n, 8, 8, 1], 0, 1, 'float32', 5) as tf.Tensor4D;
  // Labels: the model's own prediction, except a few wrong ones (never attacked).
  const pred = tf.tidy(() => tf.argMax(model(x), 1).dataSync());
  const y = tf.tensor1d(Array.from(pred, (p, i) => (i % 11 === 3 ? (p + 1) % 10 : p)), 'int32');
  return { x, y };
}

function outcome(attack: Attack, model: LogitsFn, x: tf.Tensor4D, y: tf.Tensor1D): { bits: Float32Array; success: boolean[] } {
  const r = attack.run(model, x, y, 11);
  const bits = Float32Array.from(r.xAdv.dataSync());
  r.xAdv.dispose();
  return { bits, success: r.success };
}

function assertSame(a: { bits: Float32Array; success: boolean[] }, b: { bits: Float32Array; success: boolean[] }, what: string): void {
  assert.deepEqual(a.success, b.success, `${what}: success flags differ`);
  const ua = new Uint32Array(a.bits.buffer);
  const ub = new Uint32Array(b.bits.buffer);
  let diff = 0;
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) diff++;
  assert.equal(diff, 0, `${what}: ${diff} of ${ua.length} values differ`);
}

const cases: { name: string; make: (batch: boolean, budget?: number) => Attack }[] = [
  { name: 'APGD-T, 9 targets', make: (batch, budget) => apgdT({ eps: 0.06, nIter: 12, batchTargets: batch, ...(budget ? { maxBatchElements: budget } : {}) }) },
  { name: 'APGD-T, 4 targets x 2 restarts', make: (batch, budget) => apgdT({ eps: 0.06, nIter: 12, nTargetClasses: 4, nRestarts: 2, batchTargets: batch, ...(budget ? { maxBatchElements: budget } : {}) }) },
  { name: 'APGD-CE, 3 restarts', make: (batch, budget) => apgdCe({ eps: 0.04, nIter: 12, nRestarts: 3, batchTargets: batch, ...(budget ? { maxBatchElements: budget } : {}) }) },
  { name: 'FAB-T, 9 targets', make: (batch, budget) => fabT({ eps: 0.02, nIter: 12, batchTargets: batch, ...(budget ? { maxBatchElements: budget } : {}) }) },
];

for (const c of cases) {
  test(`${c.name}: batched runs give the same bits as sequential runs, without leaking tensors`, () => {
    const { model, weights } = tinyCnn();
    const { x, y } = data(40, model);
    const before = tf.memory().numTensors;
    const sequential = outcome(c.make(false), model, x, y);
    const batched = outcome(c.make(true), model, x, y);
    // A budget of about 2.5 runs' rows: groups of two runs, then the rest.
    const grouped = outcome(c.make(true, 2.5 * 40 * 64), model, x, y);
    assert.equal(tf.memory().numTensors, before, 'leaked tensors');
    // The case must exercise both outcomes, or equality says little.
    const fooled = sequential.success.filter((s) => s).length;
    assert.ok(fooled > 4 && fooled < 40, `${c.name}: ${fooled} of 40 fooled; the case does not separate the modes`);
    assertSame(batched, sequential, `${c.name} batched vs sequential`);
    assertSame(grouped, sequential, `${c.name} grouped vs sequential`);
    tf.dispose([x, y, ...weights]);
  });
}
