/**
 * ResizeBilinear / ResizeNearestNeighbor and their gradients on torch vs cpu, in the three tfjs
 * coordinate modes (legacy, alignCorners, halfPixelCenters), up- and down-sampling, odd sizes.
 */
import { test } from 'node:test';

import { expectSameAsCpu, skipReason, tf } from './nn_helpers.js';

const skip = skipReason();
const modes = [
  { name: 'legacy', ac: false, hp: false },
  { name: 'alignCorners', ac: true, hp: false },
  { name: 'halfPixelCenters', ac: false, hp: true },
];
const sizes: Array<{ x: number[]; out: [number, number] }> = [
  { x: [2, 3, 3, 2], out: [5, 6] },
  { x: [1, 5, 4, 3], out: [10, 8] },
  { x: [2, 8, 7, 2], out: [5, 3] },
  { x: [1, 1, 4, 2], out: [3, 1] },
  { x: [2, 4, 4, 3], out: [7, 5] },
  { x: [1, 8, 8, 2], out: [5, 3] },
];
// Two bugs of tfjs's cpu gradient kernels limit where cpu is a valid reference:
// ResizeBilinearGrad returns shape [b, W, H, c] (so only square inputs work), and
// ResizeNearestNeighborGrad offsets dy by the *image's* batch stride (so only batch 1 is right),
// and with alignCorners and an output side of 1 it never terminates (its scale divides by out-1 = 0).
const bilinearGradOk = (x: number[]) => x[1] === x[2];
const nearestGradOk = (x: number[], out: [number, number], alignCorners: boolean) =>
  x[0] === 1 && !(alignCorners && (out[0] === 1 || out[1] === 1));

test('ResizeBilinear forward and gradient match cpu in every mode', { skip }, async () => {
  for (const m of modes) {
    for (const s of sizes) {
      const f = (x: tf.Tensor) => tf.image.resizeBilinear(x as tf.Tensor4D, s.out, m.ac, m.hp);
      const label = `bilinear ${m.name} ${s.x} -> ${s.out}`;
      await expectSameAsCpu(label, [{ shape: s.x }], f);
      if (!bilinearGradOk(s.x)) continue;
      await expectSameAsCpu(`${label} grad`, [{ shape: s.x }, { shape: [s.x[0], ...s.out, s.x[3]] }],
        (x, r) => tf.grad((a: tf.Tensor) => tf.sum(tf.mul(f(a), r)))(x));
    }
  }
});

test('ResizeNearestNeighbor forward and gradient match cpu in every mode', { skip }, async () => {
  for (const m of modes) {
    for (const s of sizes) {
      const f = (x: tf.Tensor) => tf.image.resizeNearestNeighbor(x as tf.Tensor4D, s.out, m.ac, m.hp);
      const label = `nearest ${m.name} ${s.x} -> ${s.out}`;
      await expectSameAsCpu(label, [{ shape: s.x }], f);
      if (!nearestGradOk(s.x, s.out, m.ac)) continue;
      await expectSameAsCpu(`${label} grad`, [{ shape: s.x }, { shape: [s.x[0], ...s.out, s.x[3]] }],
        (x, r) => tf.grad((a: tf.Tensor) => tf.sum(tf.mul(f(a), r)))(x));
    }
  }
  await expectSameAsCpu('nearest int32 keeps dtype', [{ shape: [1, 3, 3, 1], scale: 100 }],
    (x) => tf.cast(tf.image.resizeNearestNeighbor(tf.cast(x, 'int32') as tf.Tensor4D, [5, 4]), 'float32'));
});

test('resize gradients with batch > 1 and non-square images equal the per-image gradients', { skip }, async () => {
  // Where cpu is no reference (see above), check batching against the batch-1 square/single-image
  // results, which are checked against cpu above: grad of a batch = stacked grads of its images.
  await tf.setBackend('torch');
  for (const nearest of [false, true]) {
    for (const m of modes) {
      const f = (x: tf.Tensor) => nearest
        ? tf.image.resizeNearestNeighbor(x as tf.Tensor4D, [7, 4], m.ac, m.hp)
        : tf.image.resizeBilinear(x as tf.Tensor4D, [7, 4], m.ac, m.hp);
      const x = tf.randomUniform([3, 5, 3, 2], -1, 1, 'float32', 7);
      const r = tf.randomUniform([3, 7, 4, 2], -1, 1, 'float32', 8);
      const g = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(f(a), r)))(x);
      for (let b = 0; b < 3; b++) {
        const gb = tf.tidy(() => tf.grad((a: tf.Tensor) => tf.sum(tf.mul(f(a), tf.slice(r, b, 1))))(tf.slice(x, b, 1)));
        const sb = tf.slice(g, b, 1);
        tf.test_util.expectArraysClose(await sb.data(), await gb.data(), 1e-5);
        tf.dispose([gb, sb]);
      }
      tf.dispose([x, r, g]);
    }
  }
});
