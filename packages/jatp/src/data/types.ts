/**
 * Shared data contracts. Every reader returns a `Dataset`; the input pipeline turns splits into
 * float32 NHWC batches in [0, 1]. Images are kept as uint8 on the host (CIFAR-10 train is 150 MB as
 * bytes, 600 MB as float32) and converted per batch.
 */
import type * as tf from '@tensorflow/tfjs-core';

/** One split of a dataset (train or test): uint8 NHWC pixels and int labels, as read from disk. */
export interface Split {
  /** Pixel bytes, NHWC, row-major: count * height * width * channels values in 0..255. */
  readonly images: Uint8Array;
  /** Class index per image, 0 <= label < numClasses. */
  readonly labels: Int32Array;
  readonly count: number;
  /**
   * [height, width, channels] of one image (optional extension: the readers always set it so that
   * `toFloatBatch(split, ...)` can shape a batch from a Split alone; equals the Dataset's imageShape).
   */
  readonly imageShape?: readonly [number, number, number];
}

/** A loaded dataset: name, image shape, classes and the train / test splits (uint8 NHWC images, labels). */
export interface Dataset {
  /** Canonical name: 'cifar10' | 'svhn' | 'mnist' | 'fashion-mnist' | a folder name. */
  readonly name: string;
  /** [height, width, channels] of one image. */
  readonly imageShape: readonly [number, number, number];
  readonly numClasses: number;
  readonly classNames: readonly string[];
  readonly train: Split;
  readonly test: Split;
  /** Where the files were found, for reports. */
  readonly source: string;
}

/** One augmented mini-batch from the input pipeline: x float32 NHWC in [0,1], y int32 labels. */
export interface Batch {
  readonly x: tf.Tensor4D;
  readonly y: tf.Tensor1D;
  /**
   * Optional extension: positions of the batch's examples in the training split the loop iterates
   * (after any per-class subset). Set by training/loop.ts; used by recipes that keep per-example
   * state across epochs (the original MMA's margin estimates, spec §3.3(b)).
   */
  readonly indices?: Int32Array;
}
