/**
 * Test fixtures for the attack tests: a small Fashion-MNIST subset read straight from the gz IDX files
 * (independent of the data module) and a tiny MLP trained on it for a few seconds on the cpu backend.
 */
import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type { LogitsFn } from '../../src/models/types.js';
import { ensureGradients } from '../../src/attacks/ball-and-losses.js';

ensureGradients();

export const FASHION_DIR = '/usr/share/datasets/fashion-mnist';
const IMAGES = `${FASHION_DIR}/t10k-images-idx3-ubyte.gz`;
const LABELS = `${FASHION_DIR}/t10k-labels-idx1-ubyte.gz`;

/** Why Fashion-MNIST tests must skip, or false when the files are present. */
export const fashionMissing: string | false =
  existsSync(IMAGES) && existsSync(LABELS) ? false : `Fashion-MNIST gz IDX files not found in ${FASHION_DIR}`;

let cache: { images: Uint8Array; labels: Uint8Array } | undefined;
function raw(): { images: Uint8Array; labels: Uint8Array } {
  if (!cache) {
    const images = gunzipSync(readFileSync(IMAGES));
    const labels = gunzipSync(readFileSync(LABELS));
    // IDX headers: 16 bytes for images (magic, n, rows, cols), 8 bytes for labels (magic, n).
    cache = { images: images.subarray(16), labels: labels.subarray(8) };
  }
  return cache;
}

/** Side of the fixture images: 28x28 Fashion-MNIST averaged over 2x2 blocks, to keep cpu tests fast. */
export const SIDE = 14;

/** Test-set images [offset, offset+n) as x [n,14,14,1] in [0,1] (2x2 block means) and y [n] int32. */
export function fashionSlice(offset: number, n: number): { x: tf.Tensor4D; y: tf.Tensor1D } {
  const { images, labels } = raw();
  const px = new Float32Array(n * SIDE * SIDE);
  for (let i = 0; i < n; i++) {
    const src = (offset + i) * 784;
    for (let r = 0; r < SIDE; r++) {
      for (let c = 0; c < SIDE; c++) {
        const a = src + 2 * r * 28 + 2 * c;
        px[i * SIDE * SIDE + r * SIDE + c] = (images[a]! + images[a + 1]! + images[a + 28]! + images[a + 29]!) / (4 * 255);
      }
    }
  }
  const y = Int32Array.from(labels.subarray(offset, offset + n));
  return { x: tf.tensor4d(px, [n, SIDE, SIDE, 1]), y: tf.tensor1d(y, 'int32') };
}

export interface TrainedModel {
  model: LogitsFn;
  dispose(): void;
}

/**
 * A 196-hidden-10 ReLU MLP trained with Adam on test images [0, trainN) (attacks are evaluated on a
 * disjoint slice). Deterministic given the seed.
 */
export function trainFashionMlp(opts: { hidden?: number; steps?: number; trainN?: number; seed?: number } = {}): TrainedModel {
  const hidden = opts.hidden ?? 32;
  const steps = opts.steps ?? 120;
  const trainN = opts.trainN ?? 3000;
  const d = SIDE * SIDE;
  const seed = opts.seed ?? 1;
  const w1 = tf.variable(tf.randomNormal([d, hidden], 0, Math.sqrt(2 / d), 'float32', seed));
  const b1 = tf.variable(tf.zeros([hidden]));
  const w2 = tf.variable(tf.randomNormal([hidden, 10], 0, Math.sqrt(1 / hidden), 'float32', seed + 1));
  const b2 = tf.variable(tf.zeros([10]));
  const model: LogitsFn = (x) =>
    tf.tidy(() => {
      const flat = tf.reshape(x, [x.shape[0], -1]);
      const h = tf.relu(tf.add(tf.matMul(flat, w1), b1));
      return tf.add(tf.matMul(h, w2), b2) as tf.Tensor2D;
    });
  const { x, y } = fashionSlice(0, trainN);
  const onehot = tf.oneHot(y, 10);
  const optimizer = tf.train.adam(3e-3);
  const batch = 100;
  for (let s = 0; s < steps; s++) {
    const start = (s * batch) % trainN;
    tf.tidy(() => {
      const xb = tf.slice(x, [start, 0, 0, 0], [batch, SIDE, SIDE, 1]);
      const yb = tf.slice(onehot, [start, 0], [batch, 10]);
      optimizer.minimize(() => tf.losses.softmaxCrossEntropy(yb, model(xb)) as tf.Scalar);
    });
  }
  optimizer.dispose();
  tf.dispose([x, y, onehot]);
  return { model, dispose: () => tf.dispose([w1, b1, w2, b2]) };
}

/** Clean accuracy of `model` on (x, y), as a fraction. */
export function accuracy(model: LogitsFn, x: tf.Tensor4D, y: tf.Tensor1D): number {
  const correct = tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.argMax(model(x), 1), y), 'float32')));
  const value = correct.dataSync()[0]!;
  correct.dispose();
  return value / x.shape[0];
}

/** Fraction of true entries. */
export function rate(flags: boolean[]): number {
  return flags.filter(Boolean).length / flags.length;
}

/** max |a - b| and min/max of a, in float64, read back from tensors (independent check of the ball). */
export function ballStats(xAdv: tf.Tensor, x: tf.Tensor): { linf: number; l2max: number; min: number; max: number } {
  const a = xAdv.dataSync();
  const b = x.dataSync();
  const n = x.shape[0]!;
  const per = a.length / n;
  let linf = 0;
  let l2max = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = i * per; j < (i + 1) * per; j++) {
      const d = a[j]! - b[j]!;
      linf = Math.max(linf, Math.abs(d));
      s += d * d;
      min = Math.min(min, a[j]!);
      max = Math.max(max, a[j]!);
    }
    l2max = Math.max(l2max, Math.sqrt(s));
  }
  return { linf, l2max, min, max };
}

/** Untargeted success of uniformly random ±eps sign noise (the "random noise of the same norm" baseline). */
export function randomSignNoiseSuccess(model: LogitsFn, x: tf.Tensor4D, y: tf.Tensor1D, eps: number, seed: number): number {
  const wrong = tf.tidy(() => {
    const noise = tf.mul(tf.sign(tf.randomUniform(x.shape, -1, 1, 'float32', seed)), eps);
    const xn = tf.clipByValue(tf.add(x, noise), 0, 1) as tf.Tensor4D;
    return tf.sum(tf.cast(tf.notEqual(tf.argMax(model(xn), 1), y), 'float32'));
  });
  const v = wrong.dataSync()[0]!;
  wrong.dispose();
  return v / x.shape[0];
}
