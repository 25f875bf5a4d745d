/**
 * Tiny networks with known weights for the defense recipe-step tests, written with raw tf ops and
 * mirrored by float64 functions of the same parameters (reference64.ts): a dense pre-processor
 * (image -> image), a one-hidden-layer classifier exposing its hidden layer as a feature, and a
 * one-hidden-layer discriminator (probability or logit output). The classifier centres its input
 * like a batch norm without affine part (batch mean in train mode, a fixed running mean in eval
 * mode), so using the wrong mode for the target changes the numbers; the other two have no mode.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier, Network, Preprocessor } from '../../src/models/types.js';
import { dense, hashFloat, hashed, map2, mean, sigmoid, type Mat, type Params } from '../reference64.js';

let serial = 0;
function variable(values: number[], shape: number[], tag: string): tf.Variable {
  return tf.variable(tf.tensor(values, shape), true, `tiny-${tag}-${serial++}`);
}

abstract class TinyNet implements Network {
  abstract readonly arch: string;
  readonly featureNames: readonly string[] = [];
  readonly vars: Record<string, tf.Variable> = {};
  constructor(readonly options: Readonly<Record<string, unknown>>) {}
  abstract apply(x: tf.Tensor4D, training: boolean): tf.Tensor;
  applyWithFeatures(x: tf.Tensor4D, _names: readonly string[], training: boolean): { output: tf.Tensor; features: Record<string, tf.Tensor> } {
    return { output: this.apply(x, training), features: {} };
  }
  trainableVariables(): tf.Variable[] {
    return Object.values(this.vars);
  }
  namedWeights(): Map<string, tf.Variable> {
    return new Map(Object.entries(this.vars));
  }
  countParams(): number {
    return Object.values(this.vars).reduce((s, v) => s + v.size, 0);
  }
  dispose(): void {
    tf.dispose(Object.values(this.vars));
  }
  protected flat(x: tf.Tensor4D): tf.Tensor2D {
    return tf.reshape(x, [x.shape[0], -1]);
  }
}

/** P(x) = reshape(flatten(x) · (I + A) + c): a dense image-to-image map near the identity. */
export class TinyPurifier extends TinyNet implements Preprocessor {
  readonly arch = 'tiny-purifier';
  constructor(readonly imageShape: readonly [number, number, number], salt: number) {
    super({ inChannels: imageShape[2] });
    const d = imageShape[0] * imageShape[1] * imageShape[2];
    const a = hashed(d * d, salt, 0.3).map((v, i) => (i % (d + 1) === 0 ? v + 1 : v));
    this.vars['A'] = variable(a, [d, d], 'A');
    this.vars['c'] = variable(hashed(d, salt + 1, 0.1), [d], 'c');
  }
  apply(x: tf.Tensor4D): tf.Tensor {
    return tf.tidy(() => tf.reshape(tf.add(tf.matMul(this.flat(x), this.vars['A']!), this.vars['c']!), x.shape));
  }
}

/** The running mean T's eval mode subtracts from its input (non-zero, so the two modes differ). */
export const TARGET_RUNNING_MEAN = (inputs: number): number[] => Array.from({ length: inputs }, (_, i) => 0.4 + 0.1 * hashFloat(i, 97));

/**
 * T: h = tanh((flatten(x) - mu) · V + a) (feature 'hidden'), logits = h · W + b, mu = the batch mean
 * per input in train mode, TARGET_RUNNING_MEAN in eval mode (never updated: the tests need it fixed).
 */
export class TinyTarget extends TinyNet implements Classifier {
  readonly arch = 'tiny-target';
  override readonly featureNames = ['hidden'];
  readonly defaultFeature = 'hidden';
  private readonly runningMean: tf.Tensor1D;
  constructor(inputs: number, hidden: number, readonly numClasses: number, salt: number) {
    super({ numClasses });
    this.runningMean = tf.tensor1d(TARGET_RUNNING_MEAN(inputs));
    this.vars['V'] = variable(hashed(inputs * hidden, salt, 1.2), [inputs, hidden], 'V');
    this.vars['a'] = variable(hashed(hidden, salt + 1, 0.3), [hidden], 'a');
    this.vars['W'] = variable(hashed(hidden * numClasses, salt + 2, 1.5), [hidden, numClasses], 'W');
    this.vars['b'] = variable(hashed(numClasses, salt + 3, 0.2), [numClasses], 'b');
  }
  private hidden(x: tf.Tensor4D, training: boolean): tf.Tensor2D {
    return tf.tidy(() => {
      const flat = this.flat(x);
      const centred = tf.sub(flat, training ? tf.mean(flat, 0) : this.runningMean);
      return tf.tanh(tf.add(tf.matMul(centred, this.vars['V']!), this.vars['a']!)) as tf.Tensor2D;
    });
  }
  apply(x: tf.Tensor4D, training: boolean): tf.Tensor {
    return tf.tidy(() => tf.add(tf.matMul(this.hidden(x, training), this.vars['W']!), this.vars['b']!));
  }
  override applyWithFeatures(x: tf.Tensor4D, names: readonly string[], training: boolean): { output: tf.Tensor; features: Record<string, tf.Tensor> } {
    for (const n of names) if (n !== 'hidden') throw new Error(`tiny-target: no feature '${n}'`);
    const h = this.hidden(x, training);
    const output = tf.tidy(() => tf.add(tf.matMul(h, this.vars['W']!), this.vars['b']!));
    return { output, features: { hidden: h } };
  }
  override dispose(): void {
    super.dispose();
    this.runningMean.dispose();
  }
}

/** D: tanh(flatten(x) · U + e) · w + f, [N, 1]; through a sigmoid when `probability`. */
export class TinyDiscriminator extends TinyNet {
  readonly arch = 'tiny-discriminator';
  constructor(inputs: number, hidden: number, readonly probability: boolean, salt: number) {
    super({ probability });
    this.vars['U'] = variable(hashed(inputs * hidden, salt, 1.0), [inputs, hidden], 'U');
    this.vars['e'] = variable(hashed(hidden, salt + 1, 0.3), [hidden], 'e');
    this.vars['w'] = variable(hashed(hidden, salt + 2, 1.5), [hidden, 1], 'w');
    this.vars['f'] = variable(hashed(1, salt + 3, 0.2), [1], 'f');
  }
  apply(x: tf.Tensor4D): tf.Tensor {
    return tf.tidy(() => {
      const logit = tf.add(tf.matMul(tf.tanh(tf.add(tf.matMul(this.flat(x), this.vars['U']!), this.vars['e']!)), this.vars['w']!), this.vars['f']!);
      return this.probability ? tf.sigmoid(logit) : logit;
    });
  }
}

// Float64 mirrors, on flattened images (rows) and parameters under the same names with a prefix.

/** P(x) in float64 (parameters `${prefix}A`, `${prefix}c`). */
export function purifier64(p: Params, x: Mat, prefix = 'P.'): Mat {
  return dense(x, p[`${prefix}A`]!, p[`${prefix}c`]!);
}

/** T's hidden feature and logits in float64 (parameters `${prefix}V`, a, W, b), in eval or train mode. */
export function target64(p: Params, x: Mat, mode: 'eval' | 'train' = 'eval', prefix = 'T.'): { hidden: Mat; logits: Mat } {
  const inputs = x[0]!.length;
  const mu = mode === 'eval' ? TARGET_RUNNING_MEAN(inputs) : Array.from({ length: inputs }, (_, i) => mean(x.map((r) => r[i]!)));
  const hidden = map2(dense(x.map((r) => r.map((v, i) => v - mu[i]!)), p[`${prefix}V`]!, p[`${prefix}a`]!), Math.tanh);
  return { hidden, logits: dense(hidden, p[`${prefix}W`]!, p[`${prefix}b`]!) };
}

/** D's output per example in float64 (parameters `${prefix}U`, e, w, f). */
export function discriminator64(p: Params, x: Mat, probability: boolean, prefix = 'D.'): number[] {
  const h = map2(dense(x, p[`${prefix}U`]!, p[`${prefix}e`]!), Math.tanh);
  return dense(h, p[`${prefix}w`]!, p[`${prefix}f`]!).map((r) => (probability ? sigmoid(r[0]!) : r[0]!));
}

/** A network's variables under `prefix` + name, for paramsOf. */
export function prefixed(net: TinyNet, prefix: string): Record<string, tf.Variable> {
  return Object.fromEntries(Object.entries(net.vars).map(([k, v]) => [`${prefix}${k}`, v]));
}
