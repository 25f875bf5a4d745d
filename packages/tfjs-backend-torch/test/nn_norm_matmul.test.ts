/**
 * FusedBatchNorm (forward, and every input's gradient through this backend's fused
 * TorchBatchNormGrad), the ReLU gradient override (TorchReluGrad), BatchMatMul and _FusedMatMul,
 * on torch vs cpu. Also checks that the fused gradient kernels really are the ones dispatched.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { expectSameAsCpu, kernelsRun, skipReason, tf } from './nn_helpers.js';

const skip = skipReason();
const C = 4;
const x4 = { shape: [2, 5, 5, C] };
const vec = (shift = 0, scale = 1) => ({ shape: [C], shift, scale });

test('FusedBatchNorm forward (per-channel, no scale/offset, broadcast params, rank 2)', { skip }, async () => {
  await expectSameAsCpu('batchNorm per-channel', [x4, vec(), vec(1.5, 0.5), vec(), vec()],
    (x, m, v, o, s) => tf.batchNorm(x, m, v, o, s, 1e-3));
  await expectSameAsCpu('batchNorm without scale/offset', [x4, vec(), vec(1.5, 0.5)],
    (x, m, v) => tf.batchNorm(x, m, v));
  await expectSameAsCpu('batchNorm rank-4 params', [x4, { shape: [1, 1, 1, C] }, { shape: [1, 1, 1, C], shift: 1.5, scale: 0.5 }],
    (x, m, v) => tf.batchNorm(x, m, v, undefined, undefined, 0.01));
  await expectSameAsCpu('batchNorm rank 2', [{ shape: [6, C] }, vec(), vec(1.5, 0.5), vec(), vec()],
    (x, m, v, o, s) => tf.batchNorm(x, m, v, o, s, 1e-3));
});

test('FusedBatchNorm gradients w.r.t. x, mean, variance, offset, scale', { skip }, async () => {
  const loss = (r: tf.Tensor) => (x: tf.Tensor, m: tf.Tensor, v: tf.Tensor, o: tf.Tensor, s: tf.Tensor) =>
    tf.sum(tf.mul(tf.batchNorm(x, m, v, o, s, 1e-3), r));
  await expectSameAsCpu('batchNorm grads', [x4, vec(), vec(1.5, 0.5), vec(), vec(), x4],
    (x, m, v, o, s, r) => tf.grads(loss(r))([x, m, v, o, s]));
  // (tfjs cannot differentiate batchNorm without offset and scale on any backend: its tape
  // touches the missing inputs. So every gradient case passes all five.)
  // (Nor with rank-4 parameters: its formula reshapes unreduced sums to the parameter shape.)
  await expectSameAsCpu('batchNorm grads, rank 2', [{ shape: [6, C] }, vec(), vec(1.5, 0.5), vec(), vec(), { shape: [6, C] }],
    (x, m, v, o, s, r) => tf.grads(loss(r))([x, m, v, o, s]));
});

test('training-mode batch norm (batch moments fed to FusedBatchNorm) gradients', { skip }, async () => {
  const bnTrain = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    return tf.batchNorm(x, mean, variance, b, g, 1e-3);
  };
  await expectSameAsCpu('train-mode BN grads', [{ shape: [3, 4, 4, C], scale: 2, shift: 0.3 }, vec(1, 0.5), vec(), { shape: [3, 4, 4, C] }],
    (x, g, b, r) => tf.grads((a: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(bnTrain(a, gg, bb), r)))([x, g, b]));
});

test('the torch backend dispatches the fused BN and ReLU backward kernels', { skip }, async () => {
  await tf.setBackend('torch');
  const [x, m, v, s, r] = [tf.randomNormal([2, 3, 3, C]), tf.randomNormal([C]), tf.randomUniform([C], 0.5, 2),
    tf.randomNormal([C]), tf.randomNormal([2, 3, 3, C])];
  const names = await kernelsRun(() => tf.grads((a: tf.Tensor, b: tf.Tensor) =>
    tf.sum(tf.mul(tf.relu(tf.batchNorm(a, b, v, s, s)), r)))([x, m]));
  assert.ok(names.includes('TorchBatchNormGrad'), `kernels: ${names.join(',')}`);
  assert.ok(names.includes('TorchReluGrad'), `kernels: ${names.join(',')}`);
  assert.ok(!names.includes('Step'), 'the Relu gradient should not use Step on torch');
  // A second-order gradient needs differentiable backward ops: the wrappers fall back to tfjs's.
  const g2 = tf.grad((a: tf.Tensor) => tf.sum(tf.grad((b: tf.Tensor) => tf.sum(tf.mul(tf.relu(b), b)))(a)))(x);
  const expected = tf.tidy(() => tf.mul(tf.cast(tf.greater(x, 0), 'float32'), 2));
  tf.test_util.expectArraysClose(await g2.data(), await expected.data());
  tf.dispose([x, m, v, s, r, g2, expected]);
  await tf.setBackend('cpu');
  const cpuNames = await kernelsRun(() => tf.grad((a: tf.Tensor) => tf.sum(tf.relu(a)))(tf.ones([2])));
  assert.ok(!cpuNames.includes('TorchReluGrad'), 'other backends keep tfjs gradients');
});

test('ReLU gradient through the override matches cpu', { skip }, async () => {
  await expectSameAsCpu('relu grad', [{ shape: [3, 7] }, { shape: [3, 7] }],
    (x, r) => tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.relu(a), r)))(x));
});

test('LeakyReLU gradient: one TorchLeakyReluGrad kernel on torch, same values as cpu (x = 0 included)', { skip }, async () => {
  await expectSameAsCpu('leaky relu grad', [{ shape: [3, 7] }, { shape: [3, 7] }],
    (x, r) => tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.leakyRelu(a, 0.2), r)))(x));
  await tf.setBackend('torch');
  const x = tf.tensor1d([-2, -0.5, 0, 0.5, 3]);
  const r = tf.tensor1d([1, 2, 3, 4, 5]);
  const names = await kernelsRun(() => tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.leakyRelu(a, 0.2), r)))(x));
  assert.ok(names.includes('TorchLeakyReluGrad') && !names.includes('Select'), `kernels: ${names.join(',')}`);
  const g = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.leakyRelu(a, 0.2), r)))(x);
  tf.test_util.expectArraysClose(await g.data(), [0.2, 0.4, 0.6, 4, 5]);
  tf.dispose([x, r, g]);
});

test('BatchMatMul: transposes, batches, broadcast batch dims, and gradients', { skip }, async () => {
  for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]]) {
    const a = ta ? [4, 3] : [3, 4];
    const b = tb ? [5, 4] : [4, 5];
    const mm = (x: tf.Tensor, y: tf.Tensor) => tf.matMul(x, y, ta, tb);
    await expectSameAsCpu(`matMul 2D ta=${ta} tb=${tb}`, [{ shape: a }, { shape: b }], mm);
    await expectSameAsCpu(`matMul 2D grads ta=${ta} tb=${tb}`, [{ shape: a }, { shape: b }, { shape: [3, 5] }],
      (x, y, r) => tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(mm(p, q), r)))([x, y]));
    const a3 = [2, ...a];
    const b3 = [2, ...b];
    await expectSameAsCpu(`matMul 3D grads ta=${ta} tb=${tb}`, [{ shape: a3 }, { shape: b3 }, { shape: [2, 3, 5] }],
      (x, y, r) => tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(mm(p, q), r)))([x, y]));
  }
  await expectSameAsCpu('matMul broadcast batch', [{ shape: [1, 3, 4] }, { shape: [3, 4, 2] }],
    (x, y) => tf.matMul(x, y));
  await expectSameAsCpu('matMul rank 4', [{ shape: [2, 2, 3, 4] }, { shape: [2, 2, 4, 2] }],
    (x, y) => tf.matMul(x, y));
});

test('_FusedMatMul: bias + activations (outside a tape), and linear with gradients', { skip }, async () => {
  for (const activation of ['linear', 'relu', 'relu6', 'elu', 'sigmoid', 'leakyrelu', 'prelu'] as const) {
    await expectSameAsCpu(`fused matMul ${activation}`, [{ shape: [3, 4], scale: 2 }, { shape: [4, 5] }, { shape: [5] }, { shape: [5] }],
      (a, b, bias, p) => tf.fused.matMul({ a, b, bias, activation, preluActivationWeights: activation === 'prelu' ? p : undefined, leakyreluAlpha: 0.25 }));
  }
  await expectSameAsCpu('fused matMul 3D transposed', [{ shape: [2, 4, 3] }, { shape: [2, 5, 4] }, { shape: [5] }],
    (a, b, bias) => tf.fused.matMul({ a, b, bias, transposeA: true, transposeB: true, activation: 'relu' }));
  await expectSameAsCpu('fused matMul grads', [{ shape: [3, 4] }, { shape: [4, 5] }, { shape: [5] }, { shape: [3, 5] }],
    (a, b, bias, r) => tf.grads((p: tf.Tensor, q: tf.Tensor, c: tf.Tensor) =>
      tf.sum(tf.mul(tf.fused.matMul({ a: p, b: q, bias: c }), r)))([a, b, bias]));
});
