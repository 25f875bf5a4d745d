/**
 * Deterministic training batches for the shared loop: a per-epoch permutation and per-batch
 * augmentation that depend only on (seed, epoch, batch index), so the loop can start an epoch at
 * any batch (resume) and get exactly the batches an uninterrupted run would have seen.
 *
 * Augmentation (spec §1): zero-pad `pad` px, random crop back to the original size, optional
 * random horizontal flip. Images stay uint8 on the host and become float32 [0,1] per batch.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Split } from '../data/types.js';
import type { Batch } from './types.js';
import { deriveSeed, mulberry32, SEED_PURPOSE, seededPermutation } from './rng.js';

export interface AugmentOptions {
  /** Zero padding before the random crop, px (spec §1: 4; 0 disables cropping). */
  pad: number;
  /** Random horizontal flip (spec §1: on for CIFAR-10/SVHN; off is usual for (Fashion-)MNIST). */
  flip: boolean;
}

export const NO_AUGMENT: AugmentOptions = { pad: 0, flip: false };
export const CIFAR_AUGMENT: AugmentOptions = { pad: 4, flip: true };

/** Indices of the first `perClass` examples of each class, in dataset order (deterministic subset). */
export function perClassSubset(labels: Int32Array, perClass: number, numClasses?: number): Int32Array {
  if (!(Number.isInteger(perClass) && perClass > 0)) throw new Error(`perClass must be a positive integer, got ${perClass}`);
  const counts = new Map<number, number>();
  const out: number[] = [];
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    if (numClasses !== undefined && (y < 0 || y >= numClasses)) throw new Error(`label ${y} at index ${i} outside 0..${numClasses - 1}`);
    const c = counts.get(y) ?? 0;
    if (c < perClass) {
      out.push(i);
      counts.set(y, c + 1);
    }
  }
  return Int32Array.from(out);
}

export class EpochBatches {
  readonly stepsPerEpoch: number;
  private readonly pixelsPerImage: number;

  /**
   * @param split      the training split (uint8 NHWC)
   * @param imageShape [height, width, channels]
   * @param indices    which examples of the split to use (a subset), default all
   * @param batchSize  examples per batch; the last partial batch of an epoch is dropped when
   *                   `dropLast` (default false: PyTorch's DataLoader default keeps it)
   */
  constructor(
    private readonly split: Split,
    private readonly imageShape: readonly [number, number, number],
    private readonly indices: Int32Array,
    readonly batchSize: number,
    private readonly seed: number,
    private readonly augment: AugmentOptions = NO_AUGMENT,
    dropLast = false,
  ) {
    if (!(Number.isInteger(batchSize) && batchSize > 0)) throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
    if (indices.length === 0) throw new Error('training split is empty');
    this.pixelsPerImage = imageShape[0] * imageShape[1] * imageShape[2];
    if (split.images.length !== split.count * this.pixelsPerImage) {
      throw new Error(`training split: ${split.images.length} pixel bytes do not match ${split.count} images of shape [${imageShape}]`);
    }
    this.stepsPerEpoch = dropLast ? Math.floor(indices.length / batchSize) : Math.ceil(indices.length / batchSize);
    if (this.stepsPerEpoch === 0) throw new Error(`batchSize ${batchSize} exceeds the ${indices.length} training examples with dropLast`);
  }

  get exampleCount(): number {
    return this.indices.length;
  }

  private orderCache: { epoch: number; order: Int32Array } | undefined;

  private order(epoch: number): Int32Array {
    if (this.orderCache?.epoch !== epoch) {
      const perm = seededPermutation(this.indices.length, deriveSeed(this.seed, SEED_PURPOSE.dataOrder, epoch));
      this.orderCache = { epoch, order: perm.map((p) => this.indices[p]!) };
    }
    return this.orderCache.order;
  }

  /** Number of examples in batch `step` of an epoch. */
  batchLength(step: number): number {
    return Math.min(this.batchSize, this.indices.length - step * this.batchSize);
  }

  /** Batch `step` (0-based) of `epoch` (0-based). The caller disposes x and y. */
  batch(epoch: number, step: number): Batch {
    if (step < 0 || step >= this.stepsPerEpoch) throw new Error(`batch ${step} outside 0..${this.stepsPerEpoch - 1}`);
    const order = this.order(epoch);
    const n = this.batchLength(step);
    const [h, w, c] = this.imageShape;
    const x = new Float32Array(n * this.pixelsPerImage);
    const y = new Int32Array(n);
    const rand = mulberry32(deriveSeed(this.seed, SEED_PURPOSE.augmentation, epoch, step));
    const { pad, flip } = this.augment;
    for (let b = 0; b < n; b++) {
      const idx = order[step * this.batchSize + b]!;
      y[b] = this.split.labels[idx]!;
      const src = idx * this.pixelsPerImage;
      const dst = b * this.pixelsPerImage;
      // Offsets of the crop window in the padded image, minus the padding: in [-pad, pad].
      const dy = pad > 0 ? Math.floor(rand() * (2 * pad + 1)) - pad : 0;
      const dx = pad > 0 ? Math.floor(rand() * (2 * pad + 1)) - pad : 0;
      const mirror = flip && rand() < 0.5;
      for (let i = 0; i < h; i++) {
        const si = i + dy;
        if (si < 0 || si >= h) continue; // zero padding
        for (let j = 0; j < w; j++) {
          // Crop, then flip the crop: output column j shows crop column w-1-j.
          const sj = (mirror ? w - 1 - j : j) + dx;
          if (sj < 0 || sj >= w) continue;
          const so = src + (si * w + sj) * c;
          const o = dst + (i * w + j) * c;
          for (let k = 0; k < c; k++) x[o + k] = this.split.images[so + k]! / 255;
        }
      }
    }
    return { x: tf.tensor4d(x, [n, h, w, c]), y: tf.tensor1d(y, 'int32') };
  }
}
