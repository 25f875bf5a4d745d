/**
 * MaxPool/AvgPool and their gradients (MaxPoolGrad, AvgPoolGrad) on torch vs cpu, including the
 * asymmetric 'same' padding (tfjs divides average windows by their valid-tap count) and windows
 * larger than ATen's pad <= kernel/2 limit.
 */
import { test } from 'node:test';

import { expectSameAsCpu, skipReason, tf } from './nn_helpers.js';

const skip = skipReason();
type Pad = 'same' | 'valid' | number;

const cases: Array<{ x: number[]; k: number | [number, number]; s: number | [number, number]; pad: Pad; round?: 'ceil' | 'floor' }> = [
  { x: [2, 7, 7, 3], k: 3, s: 2, pad: 'same' },
  { x: [2, 8, 8, 3], k: 3, s: 2, pad: 'same' },   // asymmetric: extra row/col at bottom/right
  { x: [2, 8, 9, 2], k: 2, s: 2, pad: 'valid' },
  { x: [1, 7, 7, 4], k: 3, s: 1, pad: 'same' },
  { x: [2, 9, 9, 2], k: 4, s: 3, pad: 'same' },
  { x: [2, 6, 7, 2], k: [2, 3], s: [1, 2], pad: 'same' },
  { x: [1, 8, 8, 2], k: 3, s: 2, pad: 1 },
  { x: [1, 7, 7, 2], k: 3, s: 2, pad: 0, round: 'ceil' },
];

test('MaxPool forward and gradient match cpu', { skip }, async () => {
  for (const c of cases) {
    const f = (x: tf.Tensor) => tf.maxPool(x as tf.Tensor4D, c.k, c.s, c.pad, c.round);
    const label = `maxPool k${c.k} s${c.s} ${c.pad} ${c.x}`;
    await expectSameAsCpu(label, [{ shape: c.x }], f);
    const out = tf.tidy(() => f(tf.zeros(c.x))).shape;
    await expectSameAsCpu(`${label} grad`, [{ shape: c.x }, { shape: out }],
      (x, r) => tf.grad((a: tf.Tensor) => tf.sum(tf.mul(f(a), r)))(x));
  }
});

test('AvgPool forward and gradient match cpu (valid-count divisor)', { skip }, async () => {
  for (const c of cases) {
    const f = (x: tf.Tensor) => tf.avgPool(x as tf.Tensor4D, c.k, c.s, c.pad, c.round);
    const label = `avgPool k${c.k} s${c.s} ${c.pad} ${c.x}`;
    await expectSameAsCpu(label, [{ shape: c.x }], f);
    // tfjs's AvgPool gradient drops dimRoundingMode (like conv's); skip the gradient there.
    if (c.round !== undefined) continue;
    const out = tf.tidy(() => f(tf.zeros(c.x))).shape;
    await expectSameAsCpu(`${label} grad`, [{ shape: c.x }, { shape: out }],
      (x, r) => tf.grad((a: tf.Tensor) => tf.sum(tf.mul(f(a), r)))(x));
  }
});

test('MaxPool of int32 keeps the dtype and values', { skip }, async () => {
  await expectSameAsCpu('maxPool int32', [{ shape: [1, 6, 6, 2], scale: 50 }],
    (x) => tf.cast(tf.maxPool(tf.cast(x, 'int32') as tf.Tensor4D, 2, 2, 'same'), 'float32'));
});
