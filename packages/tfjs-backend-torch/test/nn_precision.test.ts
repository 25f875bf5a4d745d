/**
 * setPrecision: 'bf16' runs convolutions and matrix products (forward and backward) on bfloat16
 * copies of float32 operands. Checked against the cpu backend's float32 results with an error
 * bound derived from bf16's rounding, not a tuned tolerance:
 *
 *   bf16 keeps an 8-bit significand, so round-to-nearest has unit roundoff u = 2^-8: each operand
 *   becomes a(1 + d_a) with |d_a| <= u, a product a·b gets relative error <= 2u + u^2, and a sum of
 *   products sum_i a_i b_i is off by at most (2u + u^2) M with M = sum_i |a_i||b_i| (M is computed
 *   by running the same program on |inputs|). Accumulation is float32 (<= n 2^-24 M on either side)
 *   and the result may itself be rounded to bf16 (<= u |y~|). So, element by element,
 *     |y_bf16 - y_fp32| <= (2u + u^2) M + u (|y| + (2u + u^2) M) + 2 n 2^-24 M.
 *   Exception: libtorch 1.13's CPU bf16 matrix product rounds each product to bf16 and keeps the
 *   running sum in bf16 (an emulation of exactly that reproduces its 5x7 output bit for bit; errors
 *   reach 2.7u on 16-term sums of positive data), so for the matmul output the bound adds the
 *   recursive dot-product term gamma_n M, gamma_n = n u / (1 - n u), for its n-term sums.
 *   A path that truncates instead (round toward zero) has error up to 2^-7 = 2u per operand, always
 *   towards zero; on operands whose significand lies just below the next bf16 value it loses
 *   almost 2u per operand, ~4u per product, beyond the bound (3u M for positive data). The test
 *   runs such operands and checks, on emulations of both roundings, that the bound accepts
 *   round-to-nearest and rejects truncation.
 * Plus: a small CNN trained in bf16 reaches the accuracy of the same training in fp32.
 */
import * as fs from 'node:fs';
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { getPrecision, setPrecision } from '../src/index.js';
import { randomValues, skipReason, tf } from './nn_helpers.js';

const skip = skipReason();

const SHAPES = [[2, 8, 8, 4], [3, 3, 4, 6], [2, 8, 8, 6], [5, 16], [16, 7]];
/** The longest sum of products in the program (the filter gradient: N·H·W = 128 terms). */
const LONGEST_SUM = 128;
const U = 2 ** -8;
/**
 * oneDNN 2 has bf16 kernels only for AVX-512 (avx512bw and up). Without them (e.g. an AMD EPYC with
 * AVX2 only) libtorch's filter gradient falls back to a path that, like its bf16 matmul, keeps the
 * running sum in bf16: measured 5.6x the fp32-accumulation bound on the adverse operands, and within
 * it once its 128-term sums get the gamma_n term.
 */
const ONEDNN_BF16 = process.platform !== 'linux' || !fs.existsSync('/proc/cpuinfo') || /\bavx512bw\b/.test(fs.readFileSync('/proc/cpuinfo', 'utf8'));
/** Terms of the sums that may be accumulated in bf16, per output: the matmul's (16), and the filter gradient's without oneDNN bf16. */
const BF16_ACCUMULATED_TERMS = [0, 0, ONEDNN_BF16 ? 0 : LONGEST_SUM, 16];
const gamma = (k: number): number => (k * U) / (1 - k * U);
// conv forward, its input and filter gradients, and a matmul.
const program = (x: tf.Tensor, w: tf.Tensor, dy: tf.Tensor, a: tf.Tensor, b: tf.Tensor) => {
  const f = (xx: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, 1, 'same'), dy));
  const [gx, gw] = tf.grads(f)([x, w]);
  return [tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same'), gx!, gw!, tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D)];
};

/** Runs `program` on `backend` with the given input values; output values in float32. */
async function run(backend: string, inputs: Float32Array[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const before = tf.memory().numTensors;
  const ts = inputs.map((v, i) => tf.tensor(v, SHAPES[i]!, 'float32'));
  const outs = tf.tidy(() => program(...(ts as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor])));
  const values = outs.map((t) => Float32Array.from(t.dataSync() as Float32Array));
  tf.dispose([...outs, ...ts]);
  assert.equal(tf.memory().numTensors, before, `${backend}: the program leaked tensors`);
  return values;
}

/** float32 -> bf16 -> float32, round to nearest even (what a float->bfloat16 cast does). */
function bf16Nearest(v: Float32Array): Float32Array {
  const bits = new Uint32Array(Float32Array.from(v).buffer);
  for (let i = 0; i < bits.length; i++) bits[i] = ((bits[i]! + 0x7fff + ((bits[i]! >>> 16) & 1)) & 0xffff0000) >>> 0;
  return new Float32Array(bits.buffer);
}
/** float32 -> bf16 -> float32, round toward zero (dropping the low 16 bits). */
function bf16Truncated(v: Float32Array): Float32Array {
  const bits = new Uint32Array(Float32Array.from(v).buffer);
  for (let i = 0; i < bits.length; i++) bits[i] = (bits[i]! & 0xffff0000) >>> 0;
  return new Float32Array(bits.buffer);
}

/**
 * Largest ratio |got - ref| / bound over all outputs (<= 1: within the round-to-nearest bound);
 * `magnitude` = the program on |inputs| (M per element).
 */
function worstBoundRatio(got: Float32Array[], ref: Float32Array[], magnitude: Float32Array[]): number {
  let worst = 0;
  ref.forEach((r, o) => {
    for (let i = 0; i < r.length; i++) {
      const m = magnitude[o]![i]! * (1 + 1e-5); // M itself is a float32 sum of non-negative terms
      const products = (2 * U + U * U) * m;
      const accumulation = gamma(BF16_ACCUMULATED_TERMS[o]!) * (1 + 2 * U + U * U) * m;
      const bound = products + accumulation + U * (Math.abs(r[i]!) + products + accumulation) + 2 * LONGEST_SUM * 2 ** -24 * m + 1e-30;
      worst = Math.max(worst, Math.abs(got[o]![i]! - r[i]!) / bound);
    }
  });
  return worst;
}

/** Largest |got - ref| / rms(ref) (shows that the bf16 path really ran). */
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

const size = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);
/** Seeded values in [-1, 1). */
const randomInputs = (seed: number): Float32Array[] => SHAPES.map((s, i) => randomValues(size(s), seed + 101 * i));
/**
 * Positive values whose float32 significand sits 0.999 of a bf16 step above a bf16 value in [1, 1.1):
 * round-to-nearest moves them by 0.001 of a step, truncation by 0.999 of a step (~2u relative).
 */
const adverseInputs = (seed: number): Float32Array[] =>
  SHAPES.map((s, i) =>
    Float32Array.from(randomValues(size(s), seed + 101 * i), (r) => 1 + (Math.floor(((r + 1) / 2) * 12) + 0.999) * 2 ** -7),
  );
const abs = (inputs: Float32Array[]): Float32Array[] => inputs.map((v) => v.map(Math.abs));
/** A bf16 path emulated on the cpu backend: operands rounded, float32 products, result rounded. */
async function emulated(inputs: Float32Array[], round: (v: Float32Array) => Float32Array): Promise<Float32Array[]> {
  return (await run('cpu', inputs.map(round))).map(round);
}

test('the derived bf16 bound accepts round-to-nearest and rejects truncation (emulated on cpu)', async (t) => {
  const seen: string[] = [];
  for (const inputs of [randomInputs(3), adverseInputs(5)]) {
    const ref = await run('cpu', inputs);
    const magnitude = await run('cpu', abs(inputs));
    const nearest = worstBoundRatio(await emulated(inputs, bf16Nearest), ref, magnitude);
    assert.ok(nearest <= 1, `round-to-nearest emulation breaks the bound (ratio ${nearest})`);
    seen.push(`nearest ${nearest.toFixed(3)}`);
  }
  const inputs = adverseInputs(5);
  const ref = await run('cpu', inputs);
  const magnitude = await run('cpu', abs(inputs));
  const truncated = worstBoundRatio(await emulated(inputs, bf16Truncated), ref, magnitude);
  t.diagnostic(`worst error/bound: ${seen.join(', ')}, truncated ${truncated.toFixed(3)}`);
  assert.ok(truncated > 1.1, `a truncating path must break the bound on the adverse operands (ratio ${truncated})`);
});

test('bf16 convolutions and matmuls are within the round-to-nearest bound of fp32, not equal; fp32 again afterwards', { skip }, async (t) => {
  const cases: Array<[string, Float32Array[]]> = [['random', randomInputs(3)], ['adverse to truncation', adverseInputs(5)]];
  for (const [label, inputs] of cases) {
    const ref = await run('cpu', inputs);
    const magnitude = await run('cpu', abs(inputs));
    let low: Float32Array[];
    try {
      setPrecision('bf16');
      assert.equal(getPrecision(), 'bf16');
      low = await run('torch', inputs);
    } finally {
      setPrecision('fp32');
    }
    const ratio = worstBoundRatio(low, ref, magnitude);
    t.diagnostic(`${label} inputs: worst error/bound ${ratio.toFixed(3)}`);
    assert.ok(ratio <= 1, `${label} inputs: bf16 results exceed the round-to-nearest error bound (worst error/bound ${ratio.toFixed(3)})`);
    assert.ok(worstRelative(low, ref) > 1e-5, `${label} inputs: bf16 results equal fp32: the bf16 path did not run`);
  }
  assert.equal(getPrecision(), 'fp32');
  const inputs = randomInputs(3);
  assert.ok(worstRelative(await run('torch', inputs), await run('cpu', inputs)) < 1e-4, 'fp32 after bf16 must be strict again');
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
      for (let step = 0; step < 100; step++) tf.dispose(opt.minimize(() => tf.losses.softmaxCrossEntropy(y, logits()) as tf.Scalar, true) ?? []);
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
