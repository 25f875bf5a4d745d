/**
 * Test fixtures for the training tests: a tiny linear classifier written with raw tf ops (so the
 * tests do not depend on the models module and have closed-form gradients), with one
 * non-trainable state tensor updated in train mode (like BN running statistics), and tiny data.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../../src/models/types.js';
import type { Split } from '../../src/data/types.js';

/** Deterministic float in [-1, 1) from an integer (no shared RNG state between tests). */
export function hashFloat(i: number, salt = 0): number {
  let h = (Math.imul(i + 1, 0x9e3779b1) ^ Math.imul(salt + 7, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
  h = Math.imul(h ^ (h >>> 12), 0x297a2d39) >>> 0;
  return ((h ^ (h >>> 15)) >>> 0) / 2147483648 - 1;
}

/** logits = flatten(x) · W + b; train mode also updates `running_mean` (momentum 0.1, like BN). */
export class TinyLinear implements Classifier {
  readonly arch = 'tiny-linear';
  readonly options: Readonly<Record<string, unknown>>;
  readonly featureNames: readonly string[] = [];
  readonly W: tf.Variable;
  readonly b: tf.Variable;
  readonly runningMean: tf.Variable;
  readonly inputSize: number;

  constructor(
    readonly imageShape: readonly [number, number, number],
    readonly numClasses: number,
    salt = 1,
    scale = 0.5,
  ) {
    this.options = { imageShape, numClasses, salt };
    this.inputSize = imageShape[0] * imageShape[1] * imageShape[2];
    const w = Float32Array.from({ length: this.inputSize * numClasses }, (_, i) => scale * hashFloat(i, salt));
    const bias = Float32Array.from({ length: numClasses }, (_, i) => 0.1 * hashFloat(i, salt + 100));
    this.W = tf.variable(tf.tensor2d(w, [this.inputSize, numClasses]), true, `tiny-${salt}-${Math.random()}/W`);
    this.b = tf.variable(tf.tensor1d(bias), true, `tiny-${salt}-${Math.random()}/b`);
    this.runningMean = tf.variable(tf.zeros([1]), false, `tiny-${salt}-${Math.random()}/running_mean`);
  }

  apply(x: tf.Tensor4D, training: boolean): tf.Tensor {
    if (training) {
      const rm = this.runningMean;
      tf.tidy(() => rm.assign(tf.add(tf.mul(rm, 0.9), tf.mul(tf.reshape(tf.mean(x), [1]), 0.1))));
    }
    return tf.tidy(() => tf.add(tf.matMul(tf.reshape(x, [x.shape[0], this.inputSize]), this.W), this.b));
  }

  applyWithFeatures(x: tf.Tensor4D, _names: readonly string[], training: boolean): { output: tf.Tensor; features: Record<string, tf.Tensor> } {
    return { output: this.apply(x, training), features: {} };
  }

  trainableVariables(): tf.Variable[] {
    return [this.W, this.b];
  }

  namedWeights(): Map<string, tf.Variable> {
    return new Map([
      ['W', this.W],
      ['b', this.b],
      ['running_mean', this.runningMean],
    ]);
  }

  countParams(): number {
    return this.inputSize * this.numClasses + this.numClasses;
  }

  dispose(): void {
    tf.dispose([this.W, this.b, this.runningMean]);
  }
}

/** A tiny split: `count` images of shape `shape`, labels cycling through the classes, pixels hashed. */
export function tinySplit(count: number, shape: readonly [number, number, number], numClasses: number, salt = 3): Split {
  const per = shape[0] * shape[1] * shape[2];
  const images = Uint8Array.from({ length: count * per }, (_, i) => Math.floor((hashFloat(i, salt) + 1) * 127.5));
  const labels = Int32Array.from({ length: count }, (_, i) => i % numClasses);
  return { images, labels, count, imageShape: shape };
}
