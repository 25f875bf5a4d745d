/**
 * setPrecision: 'bf16' runs convolutions and matrix products (forward and backward) on bfloat16
 * copies of float32 operands. Checked against the cpu backend's float32 results: close to bf16's
 * precision but not equal (so the low-precision path really ran), back to exact agreement after
 * 'fp32'; and a small CNN trained in bf16 reaches the accuracy of the same training in fp32.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { getPrecision, setPrecision } from '../src/index.js';
import { randomValues, runOn, skipReason, tf } from './nn_helpers.js';

const skip = skipReason();

const specs = [{ shape: [2, 8, 8, 4] }, { shape: [3, 3, 4, 6] }, { shape: [2, 8, 8, 6] }, { shape: [5, 16] }, { shape: [16, 7] }];
// conv forward, its input and filter gradients, and a matmul.
const program = (x: tf.Tensor, w: tf.Tensor, dy: tf.Tensor, a: tf.Tensor, b: tf.Tensor) => {
  const f = (xx: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, 1, 'same'), dy));
  const [gx, gw] = tf.grads(f)([x, w]);
  return [tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same'), gx!, gw!, tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D)];
};

/** Largest |got - want| / rms(want) over all outputs. */
function worstRelative(got: Float32Array[], want: Float32Array[]): number {
  let worst = 0;
  want.forEach((w, o) => {
    let rms = 0;
    for (const v of w) rms += v * v;
    rms = Math.sqrt(rms / w.length);
    for (let i = 0; i < w.length; i++) worst = Math.max(worst, Math.abs(got[o]![i]! - w[i]!) / rms);
  });
  return worst;
}

test('bf16 convolutions and matmuls are close to fp32, not equal; fp32 again afterwards', { skip }, async () => {
  const ref = await runOn('cpu', specs, 3, program);
  try {
    setPrecision('bf16');
    assert.equal(getPrecision(), 'bf16');
    const low = await runOn('torch', specs, 3, program);
    const err = worstRelative(low.values, ref.values);
    assert.ok(err < 0.05, `bf16 results too far from fp32: ${err}`);
    assert.ok(err > 1e-5, `bf16 results equal fp32 (${err}): the bf16 path did not run`);
  } finally {
    setPrecision('fp32');
  }
  assert.equal(getPrecision(), 'fp32');
  const strict = await runOn('torch', specs, 3, program);
  assert.ok(worstRelative(strict.values, ref.values) < 1e-4, 'fp32 after bf16 must be strict again');
  assert.throws(() => setPrecision('fp16' as never), /unknown precision 'fp16'/);
});

test('a small CNN trained with bf16 products reaches the accuracy of the fp32 run', { skip }, async () => {
  await tf.setBackend('torch');
  // A separable task: the label is which image half is brighter (left/right x top/bottom: 4 classes).
  const n = 128;
  const px = randomValues(n * 8 * 8, 21).map((v) => (v + 1) / 2);
  const labels = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    const c = k % 4;
    labels[k] = c;
    for (let i = 0; i < 8; i++) for (let j = 0; j < 8; j++) {
      const hot = c === 0 ? j < 4 : c === 1 ? j >= 4 : c === 2 ? i < 4 : i >= 4;
      if (hot) px[k * 64 + i * 8 + j] = px[k * 64 + i * 8 + j]! * 0.5 + 0.5;
    }
  }
  const accuracy = (precision: 'fp32' | 'bf16'): number => {
    setPrecision(precision);
    try {
      const x = tf.tensor4d(px, [n, 8, 8, 1]);
      const y = tf.oneHot(tf.tensor1d(labels, 'int32'), 4);
      const w1 = tf.variable(tf.tensor4d(randomValues(9 * 8, 5).map((v) => v * 0.3), [3, 3, 1, 8]));
      const w2 = tf.variable(tf.tensor2d(randomValues(512 * 4, 6).map((v) => v * 0.05), [512, 4]));
      // Flattened, not pooled: the classes are about where the bright half is.
      const logits = () => tf.matMul(tf.reshape(tf.relu(tf.conv2d(x, w1 as tf.Tensor4D, 1, 'same')), [n, 512]), w2);
      const opt = tf.train.sgd(0.1);
      for (let step = 0; step < 100; step++) tf.dispose(opt.minimize(() => tf.losses.softmaxCrossEntropy(y, logits()) as tf.Scalar, true));
      const acc = tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(logits(), 1), tf.argMax(y, 1)), 'float32')).dataSync()[0]!);
      tf.dispose([x, y, w1, w2]);
      opt.dispose();
      return acc;
    } finally {
      setPrecision('fp32');
    }
  };
  const fp32 = accuracy('fp32');
  const bf16 = accuracy('bf16');
  assert.ok(fp32 > 0.9, `the fp32 run must learn the task (accuracy ${fp32})`);
  assert.ok(Math.abs(bf16 - fp32) <= 0.05, `bf16 accuracy ${bf16} vs fp32 ${fp32}`);
});
