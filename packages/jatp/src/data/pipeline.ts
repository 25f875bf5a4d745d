/**
 * The input pipeline: seeded shuffling, batching and the paper's augmentation, yielding `Batch`es
 * (x float32 NHWC in [0, 1], y int32) for one epoch.
 *
 * Determinism and resume: the epoch's order is `permutation(streamKey(seed, SHUFFLE, epoch))` and
 * the augmentation of the image at epoch position p uses draws p (flip) and 2p, 2p+1 (crop offsets)
 * of the keys `streamKey(seed, CROP|FLIP, epoch)` (see pipeline-rng.ts: SplitMix64-derived keys, counter-based
 * draws). Every batch is therefore a pure function of (split, options, epoch, batch number): a run
 * resumed with `startBatch = k` sees exactly the batches k, k+1, ... of the uninterrupted run.
 *
 * Prefetch: the host part of a batch (index lookup, byte gather, uint8 -> float32 conversion,
 * augmentation parameters) is prepared one batch ahead. With `for await`, batch k+1's host part is
 * scheduled with setImmediate when batch k is handed out, so it runs while the consumer awaits
 * (device reads, checkpoint writes). The plain iterator builds it right after batch k's tensors;
 * a synchronous training step on the same thread cannot overlap with it, which costs little: the
 * host part measured 1.6 ms of 59 ms per 128-image CIFAR batch (`npm run bench:data`, cpu backend),
 * against seconds per training step. The device part (division by 255, crop/flip) runs when a
 * batch is taken, because tensors must be created on the thread that owns the backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Batch, Split } from './types.js';
import { STREAM, drawBelow, permutation, streamKey } from './pipeline-rng.js';
import { CROP_FLIP_DEFAULTS, cropFlip, type CropFlipMethod, type CropFlipParams } from './augment.js';

/** Training-time augmentation of the input pipeline: none, or random crop + horizontal flip (spec §1). */
export type Augment = 'none' | 'crop-flip';

/** Options of the input pipeline (`BatchIterator`); defaults in PIPELINE_DEFAULTS and on each field. */
export interface PipelineOptions {
  readonly batchSize: number;
  /** Shuffle the order each epoch (default true). */
  readonly shuffle?: boolean;
  /** Seed of every random choice of the pipeline (default 0). */
  readonly seed?: number;
  /** Epoch number: part of the key of the epoch's permutation and augmentation (default 0). */
  readonly epoch?: number;
  /** First batch to yield, for resuming inside an epoch (default 0). */
  readonly startBatch?: number;
  /** 'crop-flip' = spec §1 train augmentation; 'none' for evaluation (default 'none'). */
  readonly augment?: Augment;
  /** Drop the last incomplete batch (default false). */
  readonly dropLast?: boolean;
  /** Zero padding before the random crop, pixels per side (default 4, spec §1). */
  readonly padding?: number;
  /** How crop-flip runs on tensors (default 'auto': see augment.ts; results are identical). */
  readonly cropMethod?: CropFlipMethod;
  /** Image shape, when the Split does not carry one. */
  readonly imageShape?: readonly [number, number, number];
}

/** Every pipeline option with its default, in one place (shared by the CLI). */
export const PIPELINE_DEFAULTS = {
  shuffle: true,
  seed: 0,
  epoch: 0,
  startBatch: 0,
  augment: 'none' as Augment,
  dropLast: false,
  padding: CROP_FLIP_DEFAULTS.padding,
  cropMethod: CROP_FLIP_DEFAULTS.method,
} as const;

/**
 * The [h, w, c] of a split's images: its `imageShape`, else the one given, else inferred for
 * square images with 3 or 1 channels.
 */
export function splitImageShape(split: Split, given?: readonly [number, number, number]): readonly [number, number, number] {
  const shape = split.imageShape ?? given;
  const pixels = split.count > 0 ? split.images.length / split.count : 0;
  if (shape) {
    if (split.count > 0 && shape[0] * shape[1] * shape[2] !== pixels) {
      throw new RangeError(`image shape ${shape.join('x')} does not match the split's ${pixels} bytes per image`);
    }
    return shape;
  }
  for (const c of [3, 1]) {
    const side = Math.round(Math.sqrt(pixels / c));
    if (side * side * c === pixels && side > 0) return [side, side, c];
  }
  throw new RangeError(`cannot infer the image shape of a split with ${pixels} bytes per image; pass imageShape`);
}

/** Host-side arrays of one batch, ready to become tensors. */
interface HostBatch {
  readonly pixels: Float32Array;
  readonly labels: Int32Array;
  readonly params?: CropFlipParams;
}

function gatherHost(split: Split, indices: ArrayLike<number>, shape: readonly [number, number, number]): { pixels: Float32Array; labels: Int32Array } {
  const per = shape[0] * shape[1] * shape[2];
  const pixels = new Float32Array(indices.length * per);
  const labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const src = indices[i]!;
    if (!Number.isInteger(src) || src < 0 || src >= split.count) throw new RangeError(`index ${src} is outside the split (0..${split.count - 1})`);
    // Typed-array set converts uint8 -> float32 natively, one call per image.
    pixels.set(split.images.subarray(src * per, (src + 1) * per), i * per);
    labels[i] = split.labels[src]!;
  }
  return { pixels, labels };
}

function toTensors(host: HostBatch, n: number, shape: readonly [number, number, number], padding: number, method: CropFlipMethod = 'auto'): Batch {
  const [h, w, c] = shape;
  const x = tf.tidy(() => {
    const scaled = tf.div(tf.tensor4d(host.pixels, [n, h, w, c], 'float32'), 255) as tf.Tensor4D;
    return host.params ? cropFlip(scaled, host.params, padding, method) : scaled;
  });
  return { x, y: tf.tensor1d(host.labels, 'int32') };
}

/**
 * Float batch (no augmentation) of the images at `indices`: x float32 NHWC in [0, 1], y int32.
 * Used by evaluation code that picks its own indices.
 */
export function toFloatBatch(split: Split, indices: ArrayLike<number>, imageShape?: readonly [number, number, number]): Batch {
  const shape = splitImageShape(split, imageShape);
  return toTensors(gatherHost(split, indices, shape), indices.length, shape, 0);
}

/**
 * One epoch of batches over a split. Iterate with `for (const b of it)` or `for await`; the caller
 * disposes each batch's tensors (`tf.dispose([b.x, b.y])`) when done with it.
 */
export class BatchIterator implements Iterable<Batch>, AsyncIterable<Batch> {
  readonly batchSize: number;
  readonly numBatches: number;
  readonly imageShape: readonly [number, number, number];
  private readonly opts: Required<Omit<PipelineOptions, 'imageShape'>>;
  private orderCache: Int32Array | undefined;

  constructor(
    private readonly split: Split,
    options: PipelineOptions,
  ) {
    const opts = { ...PIPELINE_DEFAULTS, ...options };
    const intOpt = (name: string, v: number, min: number): void => {
      if (!Number.isInteger(v) || v < min) throw new RangeError(`BatchIterator: option ${name} must be an integer >= ${min}, got ${v}`);
    };
    intOpt('batchSize', opts.batchSize, 1);
    intOpt('epoch', opts.epoch, 0);
    intOpt('startBatch', opts.startBatch, 0);
    intOpt('padding', opts.padding, 0);
    if (!Number.isInteger(opts.seed)) throw new RangeError(`BatchIterator: option seed must be an integer, got ${opts.seed}`);
    if (!['auto', 'matmul', 'crop-and-resize'].includes(opts.cropMethod)) {
      throw new RangeError(`BatchIterator: option cropMethod must be 'auto', 'matmul' or 'crop-and-resize', got '${String(opts.cropMethod)}'`);
    }
    if (opts.augment !== 'none' && opts.augment !== 'crop-flip') {
      throw new RangeError(`BatchIterator: option augment must be 'none' or 'crop-flip', got '${String(opts.augment)}'`);
    }
    this.imageShape = splitImageShape(split, options.imageShape);
    this.batchSize = opts.batchSize;
    this.numBatches = opts.dropLast ? Math.floor(split.count / opts.batchSize) : Math.ceil(split.count / opts.batchSize);
    if (opts.startBatch > this.numBatches) {
      throw new RangeError(`BatchIterator: startBatch ${opts.startBatch} is past the epoch's ${this.numBatches} batches`);
    }
    this.opts = opts;
  }

  /** The epoch's image order (a permutation of 0..count-1, or the identity without shuffle). */
  get order(): Int32Array {
    if (!this.orderCache) {
      this.orderCache = this.opts.shuffle
        ? permutation(streamKey(this.opts.seed, STREAM.shuffle, this.opts.epoch), this.split.count)
        : Int32Array.from({ length: this.split.count }, (_, i) => i);
    }
    return this.orderCache;
  }

  /** Split indices of batch k. */
  batchIndices(k: number): Int32Array {
    const start = k * this.batchSize;
    return this.order.subarray(start, Math.min(start + this.batchSize, this.split.count));
  }

  /** Crop/flip parameters of batch k (a function of seed, epoch and positions only). */
  augmentParams(k: number): CropFlipParams {
    const start = k * this.batchSize;
    const n = Math.min(this.batchSize, this.split.count - start);
    const cropKey = streamKey(this.opts.seed, STREAM.crop, this.opts.epoch);
    const flipKey = streamKey(this.opts.seed, STREAM.flip, this.opts.epoch);
    const span = 2 * this.opts.padding + 1;
    const offY = new Int32Array(n);
    const offX = new Int32Array(n);
    const flip = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const p = start + i;
      offY[i] = drawBelow(cropKey, 2 * p, span);
      offX[i] = drawBelow(cropKey, 2 * p + 1, span);
      flip[i] = drawBelow(flipKey, p, 2);
    }
    return { offY, offX, flip };
  }

  private prepare(k: number): HostBatch {
    const host = gatherHost(this.split, this.batchIndices(k), this.imageShape);
    return this.opts.augment === 'crop-flip' ? { ...host, params: this.augmentParams(k) } : host;
  }

  /** Builds batch k's tensors (k in 0..numBatches-1); the caller disposes them. */
  batch(k: number): Batch {
    return this.materialize(k, this.prepare(k));
  }

  private materialize(k: number, host: HostBatch): Batch {
    if (!Number.isInteger(k) || k < 0 || k >= this.numBatches) throw new RangeError(`batch ${k} is outside 0..${this.numBatches - 1}`);
    return toTensors(host, host.labels.length, this.imageShape, this.opts.padding, this.opts.cropMethod);
  }

  *[Symbol.iterator](): Iterator<Batch> {
    let next = this.opts.startBatch < this.numBatches ? this.prepare(this.opts.startBatch) : undefined;
    for (let k = this.opts.startBatch; k < this.numBatches; k++) {
      const current = next!;
      const batch = this.materialize(k, current);
      next = k + 1 < this.numBatches ? this.prepare(k + 1) : undefined;
      yield batch;
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Batch> {
    const schedule = (k: number): Promise<HostBatch> =>
      new Promise((resolve, reject) =>
        setImmediate(() => {
          try {
            resolve(this.prepare(k));
          } catch (err) {
            reject(err);
          }
        }),
      );
    let pending = this.opts.startBatch < this.numBatches ? schedule(this.opts.startBatch) : undefined;
    for (let k = this.opts.startBatch; k < this.numBatches; k++) {
      const host = await pending!;
      pending = k + 1 < this.numBatches ? schedule(k + 1) : undefined;
      // Swallow a rejection of the look-ahead here; it is re-raised when that batch is awaited.
      pending?.catch(() => undefined);
      yield this.materialize(k, host);
    }
  }
}
