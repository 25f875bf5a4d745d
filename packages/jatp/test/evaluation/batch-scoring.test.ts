/**
 * The per-batch scoring shared by `jatp eval` and the browser audit page, against closed forms on
 * hand-made batches (cpu backend).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { batchDistances, correctMask, isRandomized } from '../../src/evaluation/batch-scoring.js';

test('batchDistances: L1 in pixel levels per image, sums over changed images only, per-image lists with a pre-processor', async () => {
  await tf.setBackend('cpu');
  const before = tf.memory().numTensors;
  // 3 images of 2x2x1. Image 0 moved by 4/255 everywhere, image 1 untouched, image 2 by 2/255 on one pixel.
  const x = tf.fill([3, 2, 2, 1], 0.5) as tf.Tensor4D;
  const xAdv = tf.tensor4d([0.5 + 4 / 255, 0.5 + 4 / 255, 0.5 - 4 / 255, 0.5 + 4 / 255, 0.5, 0.5, 0.5, 0.5, 0.5 + 2 / 255, 0.5, 0.5, 0.5], [3, 2, 2, 1]);
  const purified = tf.tensor4d([0.5 + 1 / 255, 0.5, 0.5, 0.5, 0.5 + 8 / 255, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5 + 6 / 255], [3, 2, 2, 1]);
  const d = batchDistances(xAdv, x, purified);
  // Per image: 4, 0, 0.5 levels (adversarial); 0.25, 2, 1.5 (purified).
  const near = (a: number, b: number, what: string): void => assert.ok(Math.abs(a - b) < 1e-3, `${what}: ${a} vs ${b}`);
  near(d.l1Adv, 4 + 0 + 0.5, 'l1Adv (batch mean x n)');
  near(d.l1Purified!, 0.25 + 2 + 1.5, 'l1Purified');
  assert.equal(d.attacked, 2, 'image 1 was not changed');
  near(d.l1AdvAttacked, 4.5, 'l1AdvAttacked');
  near(d.l1PurifiedAttacked!, 0.25 + 1.5, 'l1PurifiedAttacked skips the unchanged image');
  assert.equal(d.l1AdvPerExample!.length, 3);
  near(d.l1PurifiedPerExample![1]!, 2, 'per-image purified');
  const bare = batchDistances(xAdv, x, undefined);
  assert.equal(bare.l1Purified, undefined);
  assert.equal(bare.l1AdvPerExample, undefined);
  assert.equal(bare.l1PurifiedAttacked, undefined);
  tf.dispose([x, xAdv, purified]);
  assert.equal(tf.memory().numTensors, before, 'no tensors left behind');
});

test('correctMask and isRandomized', async () => {
  await tf.setBackend('cpu');
  const x = tf.zeros([2, 1, 1, 1]) as tf.Tensor4D;
  const y = tf.tensor1d([1, 0], 'int32');
  const fixed = (): tf.Tensor2D => tf.tensor2d([[0, 1], [0, 1]]);
  assert.deepEqual(correctMask(fixed, x, y), [true, false]);
  assert.equal(isRandomized(fixed, x), false);
  let calls = 0;
  const noisy = (): tf.Tensor2D => tf.tensor2d([[0, 1 + calls++], [0, 1]]);
  assert.equal(isRandomized(noisy, x), true);
  tf.dispose([x, y]);
});
