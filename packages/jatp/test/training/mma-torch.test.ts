/**
 * Regression: every MMA-lite training step crashed on the torch engine ("reading 'backend' of
 * undefined"): the backward pass of its constant masks asked for zerosLike of a logits tensor that
 * the engine had already released. One step on `torch` must now give the loss the tfjs `cpu`
 * backend gives. Skipped when the addon is not built.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { MmaRecipe } from '../../src/targets/recipes/mma.js';
import { createOptimizer } from '../../src/training/optim.js';
import { ensureGradients } from '../../src/gradients.js';
import { TinyLinear, hashFloat } from './tiny.js';
import { useTorchBackend } from '../torch-backend.js';

const SHAPE = [2, 3, 1] as const;
const X = Array.from({ length: 6 * 6 }, (_, i) => (hashFloat(i, 9) + 1) / 2);
const Y = [0, 1, 2, 0, 1, 2];

function mmaLoss(): number {
  const net = new TinyLinear(SHAPE, 3, 16);
  const recipe = new MmaRecipe(net, { attack: { eps: 0.1, stepSize: 0.04, steps: 3, startStd: 0.001 } });
  const opt = createOptimizer({ kind: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 0.01 }, recipe.variableGroups()['main']!);
  const batch = { x: tf.tensor4d(X, [6, ...SHAPE]), y: tf.tensor1d(Y, 'int32') };
  const before = tf.memory().numTensors;
  const m = recipe.step(batch, { main: opt }, 1234);
  assert.equal(tf.memory().numTensors, before, 'step must not leak tensors');
  opt.dispose();
  tf.dispose([batch.x, batch.y, net.W, net.b, net.runningMean]);
  return m['loss']!;
}

test('MMA-lite step on the torch engine: no crash, same loss as the cpu backend', async (t) => {
  ensureGradients();
  await tf.setBackend('cpu');
  const reference = mmaLoss();
  if (!(await useTorchBackend())) {
    t.skip('tfjs-backend-torch addon not available (run ./bootstrap.sh)');
    return;
  }
  const onTorch = mmaLoss();
  await tf.setBackend('cpu');
  assert.ok(Number.isFinite(onTorch));
  assert.ok(Math.abs(onTorch - reference) < 1e-4, `torch ${onTorch} vs cpu ${reference}`);
});
