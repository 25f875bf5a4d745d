/**
 * Convolution kernels on torch vs the cpu backend: Conv2D, Conv2DBackpropInput/Filter (through
 * tf.grads), conv2dTranspose, DepthwiseConv2dNative (+ grads), FusedConv2D/FusedDepthwiseConv2D
 * with every fused activation. Random non-zero inputs; the loss multiplies the output by a random
 * tensor so dy is not uniform.
 */
import { test } from 'node:test';

import { expectSameAsCpu, skipReason, tf } from './nn_helpers.js';

const skip = skipReason();
type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];

interface ConvCase {
  name: string; x: number[]; k: number; cout: number; stride: number; pad: Pad; dilation?: number;
  round?: 'floor' | 'round' | 'ceil';
}

const conv4 = (x: tf.Tensor, w: tf.Tensor, c: ConvCase) =>
  tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.stride, c.pad, 'NHWC', c.dilation ?? 1, c.round);

function outShape(c: ConvCase, depthwiseMult?: number): number[] {
  const y = tf.tidy(() => {
    const cin = c.x[3];
    const w = tf.zeros([c.k, c.k, cin, depthwiseMult ?? c.cout]);
    const x = tf.zeros(c.x);
    return depthwiseMult !== undefined
      ? tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.stride, c.pad as 'same', 'NHWC', c.dilation ?? 1, c.round)
      : conv4(x, w, c);
  });
  const s = y.shape.slice();
  y.dispose();
  return s;
}

const cases: ConvCase[] = [
  { name: '3x3 s1 same', x: [2, 7, 7, 3], k: 3, cout: 4, stride: 1, pad: 'same' },
  { name: '3x3 s2 same, odd size', x: [2, 7, 9, 3], k: 3, cout: 5, stride: 2, pad: 'same' },
  { name: '3x3 s2 same, even size (asymmetric pad)', x: [3, 8, 8, 4], k: 3, cout: 4, stride: 2, pad: 'same' },
  { name: '3x3 s2 valid', x: [2, 9, 8, 3], k: 3, cout: 2, stride: 2, pad: 'valid' },
  { name: '1x1 s1 valid', x: [2, 5, 5, 6], k: 1, cout: 3, stride: 1, pad: 'valid' },
  { name: '1x1 s2 same', x: [2, 8, 7, 4], k: 1, cout: 6, stride: 2, pad: 'same' },
  { name: '4x4 s1 same (even kernel)', x: [1, 7, 6, 2], k: 4, cout: 3, stride: 1, pad: 'same' },
  { name: '4x4 s2 valid', x: [2, 10, 9, 2], k: 4, cout: 3, stride: 2, pad: 'valid' },
  { name: '3x3 s1 numeric pad 2', x: [2, 6, 6, 3], k: 3, cout: 2, stride: 1, pad: 2 },
  { name: '3x3 s2 numeric pad 1, ceil rounding', x: [2, 8, 8, 2], k: 3, cout: 2, stride: 2, pad: 1, round: 'ceil' },
  { name: '3x3 s1 explicit asymmetric pads', x: [2, 6, 7, 3], k: 3, cout: 4, stride: 1, pad: [[0, 0], [0, 2], [1, 0], [0, 0]] },
  { name: '3x3 s2 explicit pads', x: [1, 9, 9, 2], k: 3, cout: 3, stride: 2, pad: [[0, 0], [2, 1], [1, 2], [0, 0]] },
  // Shapes where the native side switches to contiguous NCHW (ops_conv.cc PreferContiguous).
  { name: '3x3 s1 same on 4x4 (contiguous path)', x: [2, 4, 4, 8], k: 3, cout: 6, stride: 1, pad: 'same' },
  { name: '3x3 s2 same, 128 channels (contiguous weight grad)', x: [1, 6, 6, 128], k: 3, cout: 3, stride: 2, pad: 'same' },
];

test('Conv2D forward and its input/filter gradients match cpu', { skip }, async () => {
  for (const c of cases) {
    const w = [c.k, c.k, c.x[3], c.cout];
    const r = outShape(c);
    await expectSameAsCpu(`conv2d ${c.name}`, [{ shape: c.x }, { shape: w }], (x, f) => conv4(x, f, c));
    // tfjs's Conv2D gradient drops dimRoundingMode, so its backprop kernels see a different output
    // size than dy has; torch's backprop uses dy's real shape. Forward-only for those cases.
    if (c.round !== undefined) continue;
    await expectSameAsCpu(`conv2d grads ${c.name}`, [{ shape: c.x }, { shape: w }, { shape: r }],
      (x, f, rr) => tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(conv4(a, b, c), rr)))([x, f]));
  }
});

test('Conv2D with dilation 2 (forward; tfjs has no gradient for dilated conv2d)', { skip }, async () => {
  for (const c of [
    { name: 'd2 same', x: [2, 9, 9, 3], k: 3, cout: 4, stride: 1, pad: 'same' as Pad, dilation: 2 },
    { name: 'd2 valid', x: [1, 10, 8, 2], k: 3, cout: 3, stride: 1, pad: 'valid' as Pad, dilation: 2 },
    { name: 'd2 2x2 same', x: [1, 7, 7, 2], k: 2, cout: 3, stride: 1, pad: 'same' as Pad, dilation: 2 },
  ]) {
    await expectSameAsCpu(`conv2d ${c.name}`, [{ shape: c.x }, { shape: [c.k, c.k, c.x[3], c.cout] }],
      (x, f) => conv4(x, f, c));
  }
});

test('Conv2D in NCHW data format, forward and gradients', { skip }, async () => {
  const nchw = (x: tf.Tensor, f: tf.Tensor) => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 2, 'same', 'NCHW');
  await expectSameAsCpu('conv2d NCHW', [{ shape: [2, 3, 8, 7] }, { shape: [3, 3, 3, 4] }], nchw);
  await expectSameAsCpu('conv2d NCHW grads', [{ shape: [2, 3, 8, 7] }, { shape: [3, 3, 3, 4] }, { shape: [2, 4, 4, 4] }],
    (x, f, r) => tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(nchw(a, b), r)))([x, f]));
});

test('conv2dTranspose (Conv2DBackpropInput forward) and its gradients', { skip }, async () => {
  for (const c of [
    { x: [2, 4, 4, 3], out: [2, 8, 8, 5], k: 3, s: 2, pad: 'same' as const },
    { x: [1, 5, 4, 2], out: [1, 11, 9, 3], k: 3, s: 2, pad: 'valid' as const },
    { x: [2, 3, 3, 2], out: [2, 6, 6, 2], k: 4, s: 2, pad: 'same' as const },
    { x: [2, 5, 5, 3], out: [2, 5, 5, 2], k: 3, s: 1, pad: 'same' as const },
  ]) {
    const w = [c.k, c.k, c.out[3], c.x[3]];
    const t = (x: tf.Tensor, f: tf.Tensor) =>
      tf.conv2dTranspose(x as tf.Tensor4D, f as tf.Tensor4D, c.out as [number, number, number, number], c.s, c.pad);
    await expectSameAsCpu(`conv2dTranspose k${c.k} s${c.s} ${c.pad}`, [{ shape: c.x }, { shape: w }], t);
    await expectSameAsCpu(`conv2dTranspose grads k${c.k} s${c.s} ${c.pad}`, [{ shape: c.x }, { shape: w }, { shape: c.out }],
      (x, f, r) => tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(t(a, b), r)))([x, f]));
  }
});

test('DepthwiseConv2dNative forward and gradients (grouped conv)', { skip }, async () => {
  const dcases: Array<ConvCase & { mult: number }> = [
    { name: '3x3 s1 same mult 1', x: [2, 7, 7, 3], k: 3, cout: 0, mult: 1, stride: 1, pad: 'same' },
    { name: '3x3 s2 same mult 2, even size', x: [2, 8, 8, 3], k: 3, cout: 0, mult: 2, stride: 2, pad: 'same' },
    { name: '5x5 s1 valid mult 3', x: [1, 9, 8, 2], k: 5, cout: 0, mult: 3, stride: 1, pad: 'valid' },
    { name: '4x4 s2 same', x: [2, 9, 9, 4], k: 4, cout: 0, mult: 1, stride: 2, pad: 'same' },
  ];
  for (const c of dcases) {
    const w = [c.k, c.k, c.x[3], c.mult];
    const dw = (x: tf.Tensor, f: tf.Tensor) =>
      tf.depthwiseConv2d(x as tf.Tensor4D, f as tf.Tensor4D, c.stride, c.pad as 'same');
    await expectSameAsCpu(`depthwise ${c.name}`, [{ shape: c.x }, { shape: w }], dw);
    await expectSameAsCpu(`depthwise grads ${c.name}`, [{ shape: c.x }, { shape: w }, { shape: outShape(c, c.mult) }],
      (x, f, r) => tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(dw(a, b), r)))([x, f]));
  }
  await expectSameAsCpu('depthwise dilation 2 (forward)', [{ shape: [2, 9, 9, 3] }, { shape: [3, 3, 3, 2] }],
    (x, f) => tf.depthwiseConv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, 'same', 'NHWC', 2));
});

test('FusedConv2D and FusedDepthwiseConv2D: bias + every activation (outside a tape)', { skip }, async () => {
  const acts = ['linear', 'relu', 'relu6', 'elu', 'sigmoid', 'leakyrelu', 'prelu'] as const;
  for (const activation of acts) {
    await expectSameAsCpu(`fused conv2d ${activation}`,
      [{ shape: [2, 8, 8, 3] }, { shape: [3, 3, 3, 4], scale: 3 }, { shape: [4] }, { shape: [4] }],
      (x, f, b, p) => tf.fused.conv2d({
        x: x as tf.Tensor4D, filter: f as tf.Tensor4D, strides: 2, pad: 'same', bias: b, activation,
        preluActivationWeights: activation === 'prelu' ? p : undefined, leakyreluAlpha: 0.3,
      }));
    await expectSameAsCpu(`fused depthwise ${activation}`,
      [{ shape: [2, 7, 7, 3] }, { shape: [3, 3, 3, 2], scale: 3 }, { shape: [6] }, { shape: [6] }],
      (x, f, b, p) => tf.fused.depthwiseConv2d({
        x: x as tf.Tensor4D, filter: f as tf.Tensor4D, strides: 1, pad: 'same', bias: b, activation,
        preluActivationWeights: activation === 'prelu' ? p : undefined, leakyreluAlpha: 0.3,
      }));
  }
  // A scalar bias is not per-channel: added after the convolution.
  await expectSameAsCpu('fused conv2d scalar bias', [{ shape: [1, 5, 5, 2] }, { shape: [3, 3, 2, 3] }, { shape: [1] }],
    (x, f, b) => tf.fused.conv2d({ x: x as tf.Tensor4D, filter: f as tf.Tensor4D, strides: 1, pad: 'valid', bias: b, activation: 'relu' }));
  // Under a tape with a linear activation tfjs still fuses, with its own custom gradient.
  await expectSameAsCpu('fused conv2d linear + bias gradients',
    [{ shape: [2, 6, 6, 3] }, { shape: [3, 3, 3, 4] }, { shape: [4] }, { shape: [2, 3, 3, 4] }],
    (x, f, b, r) => tf.grads((a: tf.Tensor, w: tf.Tensor, c: tf.Tensor) =>
      tf.sum(tf.mul(tf.fused.conv2d({ x: a as tf.Tensor4D, filter: w as tf.Tensor4D, strides: 2, pad: 'same', bias: c }), r)))([x, f, b]));
});
