/**
 * The audit page's wasm kernels (src/audit/wasm-gradients.ts) against the tfjs `cpu` backend as the
 * reference, in Node (the wasm backend runs here too, single-threaded): the filter gradient wasm
 * lacks, the convolution-based input gradient, channel-axis concat / split, their gradients, the
 * unfused Conv2D layers, and no tensors left behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmGradients, unfuseConvolutions } from '../src/audit/wasm-gradients.js';

async function on(backend: string, f: () => tf.Tensor | tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  await tf.ready();
  const before = tf.memory().numTensors;
  const out = tf.tidy(f);
  const list = Array.isArray(out) ? out : [out];
  const values = list.map((t) => t.dataSync() as Float32Array);
  tf.dispose(list);
  assert.equal(tf.memory().numTensors, before, `${backend}: tensors left behind`);
  return values;
}

const rnd = (shape: number[], seed: number): tf.Tensor => tf.randomNormal(shape, 0, 1, 'float32', seed);
const convLoss = (x: tf.Tensor, w: tf.Tensor, stride: number, pad: 'same' | 'valid'): tf.Scalar => tf.sum(tf.square(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, stride, pad)));

const CASES: [string, () => tf.Tensor | tf.Tensor[]][] = [
  ['concat on channels', () => tf.concat([rnd([2, 9, 9, 3], 1), rnd([2, 9, 9, 5], 2)], 3)],
  ['split on channels', () => tf.split(rnd([2, 9, 9, 8], 3), [3, 5], 3)],
  ['concat on another axis (falls back)', () => tf.concat([rnd([2, 9, 9, 3], 1), rnd([2, 9, 9, 3], 2)], 1)],
  ['filter gradient, stride 1, same', () => tf.grad((w: tf.Tensor) => convLoss(rnd([2, 9, 9, 3], 4), w, 1, 'same'))(rnd([3, 3, 3, 4], 5))],
  ['filter gradient, stride 2, same, odd size', () => tf.grad((w: tf.Tensor) => convLoss(rnd([2, 9, 8, 3], 4), w, 2, 'same'))(rnd([3, 3, 3, 4], 5))],
  ['filter gradient, 2x2 valid', () => tf.grad((w: tf.Tensor) => convLoss(rnd([1, 7, 7, 2], 4), w, 2, 'valid'))(rnd([2, 2, 2, 3], 5))],
  ['input gradient, stride 1, same', () => tf.grad((x: tf.Tensor) => convLoss(x, rnd([3, 3, 3, 4], 5), 1, 'same'))(rnd([2, 9, 9, 3], 4))],
  ['input gradient, stride 1, valid, even kernel', () => tf.grad((x: tf.Tensor) => convLoss(x, rnd([2, 3, 3, 4], 5), 1, 'valid'))(rnd([2, 9, 8, 3], 4))],
  ['input gradient, stride 2 (wasm kernel)', () => tf.grad((x: tf.Tensor) => convLoss(x, rnd([3, 3, 3, 4], 5), 2, 'same'))(rnd([2, 9, 9, 3], 4))],
  ['gradient through concat and split', () => tf.grad((x: tf.Tensor) => tf.sum(tf.square(tf.concat([x, tf.mul(tf.split(x, [1, 2], 3)[1]!, 2)], 3))))(rnd([2, 9, 9, 3], 4))],
];

test('wasm kernels of the audit page equal the cpu backend', async () => {
  registerWasmGradients();
  for (const [name, f] of CASES) {
    const want = await on('cpu', f);
    const got = await on('wasm', f);
    assert.equal(got.length, want.length, name);
    want.forEach((w, i) => {
      assert.equal(got[i]!.length, w.length, name);
      w.forEach((v, j) => assert.ok(Math.abs(v - got[i]![j]!) <= 1e-4 * (1 + Math.abs(v)), `${name}: [${i}][${j}] ${got[i]![j]} vs ${v}`));
    });
  }
});

test('unfused Conv2D layers give the same outputs and input gradients as the fused ones (cpu, bit for bit)', async () => {
  await tf.setBackend('cpu');
  const make = () =>
    tf.sequential({ layers: [tf.layers.conv2d({ inputShape: [8, 8, 2], filters: 3, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }), biasInitializer: tf.initializers.randomNormal({ seed: 2 }) }), tf.layers.flatten(), tf.layers.dense({ units: 4, kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) })] });
  const fused = make();
  const plain = make();
  assert.equal(unfuseConvolutions(plain), 1);
  const x = rnd([2, 8, 8, 2], 9);
  const g = (m: tf.LayersModel) => tf.grad((v: tf.Tensor) => tf.sum(tf.square(m.predict(v) as tf.Tensor)))(x).dataSync();
  assert.deepEqual(Array.from((plain.predict(x) as tf.Tensor).dataSync()), Array.from((fused.predict(x) as tf.Tensor).dataSync()));
  assert.deepEqual(Array.from(g(plain)), Array.from(g(fused)));
});
