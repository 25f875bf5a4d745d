/**
 * Leak test: N training steps of a small CNN (conv, training-mode batch norm through moments, relu,
 * max/avg pooling, strided conv, dense; softmax cross-entropy; SGD with momentum) on torch leave
 * tf.memory().numTensors, the backend's data ids and the addon's native tensor count flat, and the
 * process RSS bounded. Also a PGD-style loop (gradient w.r.t. the input, BN in eval mode).
 * NN_LEAK_STEPS overrides the step count (default 1000).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { nativeBinding } from '../src/index.js';
import { skipReason, tf } from './nn_helpers.js';

const skip = skipReason();
const STEPS = Number(process.env.NN_LEAK_STEPS ?? 1000);

function makeNet() {
  const v = (shape: number[], scale: number) => tf.variable(tf.randomNormal(shape, 0, scale, 'float32', 3));
  const params = {
    w1: v([3, 3, 3, 8], 0.3), g1: tf.variable(tf.ones([8])), b1: tf.variable(tf.zeros([8])),
    w2: v([3, 3, 8, 16], 0.2), g2: tf.variable(tf.ones([16])), b2: tf.variable(tf.zeros([16])),
    wd: v([16, 10], 0.2), bd: tf.variable(tf.zeros([10])),
  };
  const stats = {
    m1: tf.variable(tf.zeros([8]), false), v1: tf.variable(tf.ones([8]), false),
    m2: tf.variable(tf.zeros([16]), false), v2: tf.variable(tf.ones([16]), false),
  };
  const bn = (x: tf.Tensor4D, g: tf.Variable, b: tf.Variable, m: tf.Variable, s: tf.Variable, training: boolean) => {
    if (!training) return tf.batchNorm(x, m, s, b, g, 1e-3);
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    m.assign(tf.add(tf.mul(m, 0.9), tf.mul(mean, 0.1)));
    s.assign(tf.add(tf.mul(s, 0.9), tf.mul(variance, 0.1)));
    return tf.batchNorm(x, mean, variance, b, g, 1e-3);
  };
  const forward = (x: tf.Tensor4D, training: boolean) => {
    let h = tf.relu(bn(tf.conv2d(x, params.w1, 1, 'same'), params.g1, params.b1, stats.m1, stats.v1, training));
    h = tf.maxPool(h, 2, 2, 'same');
    h = tf.relu(bn(tf.conv2d(h, params.w2, 2, 'same'), params.g2, params.b2, stats.m2, stats.v2, training));
    h = tf.avgPool(h, 2, 1, 'valid');
    const pooled = tf.mean(h, [1, 2]);
    return tf.add(tf.matMul(pooled, params.wd), params.bd);
  };
  return { params, stats, forward };
}

test(`${STEPS} train steps + PGD steps of a small CNN leave tensors, native handles and RSS flat`, { skip, timeout: 600_000 }, async () => {
  await tf.setBackend('torch');
  const binding = nativeBinding()!;
  const net = makeNet();
  const opt = tf.train.momentum(0.05, 0.9);
  const x = tf.randomUniform([4, 8, 8, 3], 0, 1, 'float32', 5);
  const labels = tf.oneHot(tf.tensor1d([1, 3, 5, 7], 'int32'), 10);
  const vars = Object.values(net.params);
  const trainStep = () => tf.tidy(() => {
    const cost = opt.minimize(() => tf.losses.softmaxCrossEntropy(labels, net.forward(x as tf.Tensor4D, true)) as tf.Scalar, true, vars);
    return cost!.dataSync()[0];
  });
  const pgdStep = (adv: tf.Tensor) => tf.tidy(() => {
    const g = tf.grad((a: tf.Tensor) => tf.losses.softmaxCrossEntropy(labels, net.forward(a as tf.Tensor4D, false)))(adv);
    return tf.clipByValue(tf.add(adv, tf.mul(tf.sign(g), 0.01)), 0, 1);
  });

  // Warm up (optimizer slots are created on the first step), then take the baseline.
  const first = trainStep();
  let adv = pgdStep(x);
  const base = { tensors: tf.memory().numTensors, dataIds: tf.engine().backend.numDataIds(), handles: binding.count() };
  const rss0 = process.memoryUsage().rss;
  let last = first;
  const t0 = Date.now();
  for (let i = 0; i < STEPS; i++) {
    last = trainStep();
    if (i % 10 === 0) {
      const next = pgdStep(adv);
      adv.dispose();
      adv = next;
    }
    if (i % 100 === 99) {
      assert.equal(tf.memory().numTensors, base.tensors, `tensors after ${i + 1} steps`);
      assert.equal(binding.count(), base.handles, `native handles after ${i + 1} steps`);
    }
  }
  const ms = (Date.now() - t0) / STEPS;
  assert.equal(tf.memory().numTensors, base.tensors, 'tf.memory().numTensors grew');
  assert.equal(tf.engine().backend.numDataIds(), base.dataIds, 'backend data ids grew');
  assert.equal(binding.count(), base.handles, 'native tensor count grew');
  const rssGrowthMb = (process.memoryUsage().rss - rss0) / 2 ** 20;
  // The allocator may keep some pages; a real leak of these sizes (a few KB/step) over 1000 steps
  // with PGD would show as steady growth far beyond this bound.
  assert.ok(rssGrowthMb < 64, `RSS grew by ${rssGrowthMb.toFixed(1)} MB`);
  assert.ok(Number.isFinite(last) && last < first, `training should reduce the loss (${first} -> ${last})`);
  process.stdout.write(`# ${STEPS} steps, ${ms.toFixed(2)} ms/step, RSS growth ${rssGrowthMb.toFixed(1)} MB, loss ${first.toFixed(3)} -> ${last.toFixed(3)}\n`);
  adv.dispose();
  tf.dispose([x, labels, ...vars, ...Object.values(net.stats)]);
  opt.dispose();
});
