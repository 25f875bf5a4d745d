/**
 * The shared losses module (src/classifier-losses.ts): the one definition that attacks, target training and the
 * defenses import, checked against float64 references written from spec §2.5 / §3.2 (MART's boosted
 * cross-entropy, with its gradient), and the one stop-gradient.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as losses from '../src/classifier-losses.js';
import * as attackCommon from '../src/attacks/ball-and-losses.js';
import { ensureGradients } from '../src/gradients.js';

before(async () => {
  await tf.setBackend('cpu');
  ensureGradients();
});

function softmax64(row: number[]): number[] {
  const m = Math.max(...row);
  const e = row.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/**
 * MART's loss_adv for one row (spec §3.2): CE + NLL of log(1.0001 - q + 1e-12) at ONE class k*, the
 * most probable wrong class (lowest index among ties), and its gradient in the logits, in float64.
 */
function boostedRow(z: number[], y: number): { value: number; grad: number[] } {
  const q = softmax64(z);
  let k = -1;
  for (let j = 0; j < q.length; j++) if (j !== y && (k < 0 || q[j]! > q[k]!)) k = j;
  const denom = 1.0001 - q[k]! + 1e-12;
  const value = -Math.log(q[y]!) - Math.log(denom);
  // d(-log q_y)/dz_j = q_j - [j = y];  d(-log(denom))/dz_j = (1 / denom) dq_k/dz_j = q_k ([j = k] - q_j) / denom
  const grad = q.map((qj, j) => qj - (j === y ? 1 : 0) + (q[k]! * ((j === k ? 1 : 0) - qj)) / denom);
  return { value, grad };
}

test('boosted CE: value and gradient match MART with a single strongest wrong class, ties included', () => {
  // Row 0: true class on top; row 1: a wrong class on top; rows 2-3: two wrong classes tie exactly
  // (equal logits give bitwise-equal probabilities), where a max-based formula would send the margin
  // term's gradient to both tied classes and double it.
  const rows = [
    [2.0, 0.5, -1.0, 0.3],
    [0.1, 1.7, -0.4, 0.9],
    [1.2, 0.4, 0.4, -2.0],
    [-0.5, 3.0, 3.0, 1.0],
  ];
  const y = [0, 0, 0, 0];
  const z = tf.tensor2d(rows);
  const yt = tf.tensor1d(y, 'int32');
  const perExample = losses.boostedCrossEntropyPerExample(z, yt);
  const grad = tf.grad((t: tf.Tensor) => tf.sum(losses.boostedCrossEntropyPerExample(t as tf.Tensor2D, yt)))(z);
  const values = perExample.dataSync();
  const g = grad.dataSync();
  rows.forEach((row, i) => {
    const ref = boostedRow(row, y[i]!);
    assert.ok(Math.abs(values[i]! - ref.value) < 1e-5, `row ${i}: value ${values[i]} vs ${ref.value}`);
    ref.grad.forEach((gj, j) => assert.ok(Math.abs(g[i * 4 + j]! - gj) < 1e-5, `row ${i}, class ${j}: gradient ${g[i * 4 + j]} vs ${gj}`));
  });
  const mean = losses.boostedCrossEntropy(z, yt);
  const refMean = rows.reduce((s, row, i) => s + boostedRow(row, y[i]!).value, 0) / rows.length;
  assert.ok(Math.abs(mean.dataSync()[0]! - refMean) < 1e-5);
  tf.dispose([z, yt, perExample, grad, mean]);
});

test('detach: identity forward, zero gradient; masks built from argmax can sit inside a differentiated loss', () => {
  const x = tf.tensor1d([0.5, -1.5, 2]);
  const d = losses.detach(x);
  assert.deepEqual(Array.from(d.dataSync()), Array.from(x.dataSync()));
  // d/dx sum(x * detach(x)) = detach(x) = x (the detached factor contributes nothing)
  const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(t, losses.detach(t))))(x);
  assert.deepEqual(Array.from(g.dataSync()), [0.5, -1.5, 2]);
  // MMA-lite's mask: argmax/equal inside detach, differentiable loss around it
  const zn = tf.tensor2d([[2, 0, 0], [0, 0, 3]]);
  const yt = tf.tensor1d([0, 1], 'int32');
  const gz = tf.grad((t: tf.Tensor) => losses.mmaLiteLoss(t as tf.Tensor2D, zn, yt))(zn);
  assert.ok(Array.from(gz.dataSync()).every(Number.isFinite));
  tf.dispose([x, d, g, zn, yt, gz]);
});

test('one definition: the attacks module hands out the losses module\'s functions, not copies', () => {
  assert.equal(attackCommon.crossEntropyPerExample, losses.crossEntropyPerExample);
  assert.equal(attackCommon.cwMarginPerExample, losses.cwMarginPerExample);
  assert.equal(attackCommon.dlrPerExample, losses.dlrPerExample);
  assert.equal(attackCommon.targetedDlrPerExample, losses.targetedDlrPerExample);
});
