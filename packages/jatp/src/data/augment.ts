/**
 * The paper's training augmentation (spec §1, paper §4.1): zero-pad every side by `padding` pixels
 * (4), take a random crop of the original size (32x32 for CIFAR/SVHN, 28x28 for Fashion-MNIST), and
 * flip it horizontally with probability 1/2.
 *
 * How: pad + crop + flip of image n is a row selection and a column selection,
 *   out[n, i, j, :] = x[n, rowSrc[n, i], colSrc[n, j], :],
 * with rowSrc = i + offY - padding and colSrc = (flipped ? w-1-j : j) + offX - padding. Both are
 * done as batched matrix products with 0/1 selection matrices built by `equal` on the device; a
 * source index outside the image matches no column of the selection matrix, which yields exactly the
 * zero padding. Only batched matMul/equal/cast/reshape/transpose are used, so every tfjs backend runs
 * it, and products with 0/1 weights are exact in float32 (out == the shifted input bit for bit).
 */
import * as tf from '@tensorflow/tfjs-core';

/** Per-image random parameters of one augmented batch. */
export interface CropFlipParams {
  /** Crop origin in the padded image, 0..2*padding (row). */
  readonly offY: Int32Array;
  /** Crop origin in the padded image, 0..2*padding (column). */
  readonly offX: Int32Array;
  /** 1 = flip horizontally. */
  readonly flip: Uint8Array;
}

export const CROP_FLIP_DEFAULTS = { padding: 4 } as const;

/**
 * Applies pad + crop + flip to a float NHWC batch (any value range); returns a new tensor of the same
 * shape. The caller owns `x`; intermediate tensors are disposed.
 */
export function cropFlip(x: tf.Tensor4D, params: CropFlipParams, padding: number = CROP_FLIP_DEFAULTS.padding): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  if (params.offY.length !== n || params.offX.length !== n || params.flip.length !== n) {
    throw new RangeError(`cropFlip: ${n} images but ${params.offY.length}/${params.offX.length}/${params.flip.length} parameters`);
  }
  const rowSrc = new Int32Array(n * h);
  const colSrc = new Int32Array(n * w);
  for (let b = 0; b < n; b++) {
    const dy = params.offY[b]! - padding;
    const dx = params.offX[b]! - padding;
    const flipped = params.flip[b] === 1;
    for (let i = 0; i < h; i++) rowSrc[b * h + i] = i + dy;
    for (let j = 0; j < w; j++) colSrc[b * w + j] = (flipped ? w - 1 - j : j) + dx;
  }
  return tf.tidy(() => {
    // R[b, i, r] = 1 iff r == rowSrc[b, i];  C[b, s, j] = 1 iff s == colSrc[b, j].
    const rowSel = tf.cast(tf.equal(tf.tensor3d(rowSrc, [n, h, 1], 'int32'), tf.reshape(tf.range(0, h, 1, 'int32'), [1, 1, h])), 'float32') as tf.Tensor3D;
    const colSel = tf.cast(tf.equal(tf.reshape(tf.range(0, w, 1, 'int32'), [1, w, 1]), tf.tensor3d(colSrc, [n, 1, w], 'int32')), 'float32') as tf.Tensor3D;
    // Rows: [n,h,h] x [n,h,w*c].
    const rows = tf.matMul(rowSel, tf.reshape(x, [n, h, w * c]));
    // Columns: bring w last, [n,h*c,w] x [n,w,w], and back to NHWC.
    const wLast = tf.reshape(tf.transpose(tf.reshape(rows, [n, h, w, c]), [0, 1, 3, 2]), [n, h * c, w]);
    const cols = tf.matMul(wLast, colSel);
    return tf.transpose(tf.reshape(cols, [n, h, c, w]), [0, 1, 3, 2]) as tf.Tensor4D;
  });
}
