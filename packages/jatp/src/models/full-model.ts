/**
 * The full model F = T o P of the paper (spec §2.8): any pre-processor P in front of any classifier T.
 *
 *   F(x) = T(clip01(P(x)))   (clamp: true, the default, spec §2.8 / A4)
 *   F(x) = T(P(x))           (clamp: false, e.g. inside training losses, spec A4)
 *
 * Gradients flow end to end through P and T (white-box adaptive attacks, spec §2.8). With
 * `bpda: true` the backward pass treats P (and the clamp) as the identity: Athalye et al.'s BPDA
 * with the identity approximation (spec §5.6). The forward pass is unchanged.
 *
 * `logits` runs both networks in inference mode (BN running statistics), which is what attacks
 * and evaluation use. `logitsAndFeatures` takes the mode explicitly, per network if needed.
 *
 * Usage:
 *   const F = fullModel(target, purifier);            // F(x) = T(clip01(P(x)))
 *   const adv = pgd(F.logits, x, y);                  // attacks consume a LogitsFn
 *   const { logits, features } = F.logitsAndFeatures(x, ['layer3'], false);
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier, LogitsFn, Preprocessor } from './types.js';
import { ensureGradients } from '../gradients.js';

/** Options of `fullModel`: BPDA (default false) and clamping P's output to [0, 1] (default true). */
export interface FullModelOptions {
  /** Identity backward through P (BPDA, spec §5.6). Default false: exact gradients. */
  bpda?: boolean;
  /** Clamp P's output to [0, 1] before T. Default true (spec §2.8). Ignored without P. */
  clamp?: boolean;
}

/** Mode per network; a plain boolean applies to both. */
export type TrainingMode = boolean | { preprocessor: boolean; classifier: boolean };

/** Feature name under which `logitsAndFeatures` returns T's input (clip01(P(x)) or P(x)). */
export const PREPROCESSED = 'preprocessed';

/** The full model F = T ∘ clip01 ∘ P; attacks take it as it is (its `logits` are attacked). */
export interface FullModel {
  readonly classifier: Classifier;
  readonly preprocessor?: Preprocessor;
  readonly options: Required<FullModelOptions>;
  /** x -> logits, inference mode, differentiable in x. */
  readonly logits: LogitsFn;
  /** What T sees: clip01(P(x)) (or P(x) without clamp, or x without P). Same BPDA rule as logits. */
  preprocess(x: tf.Tensor4D, training: TrainingMode): tf.Tensor4D;
  /**
   * Logits plus named feature maps of T (e.g. 'layer3', spec §2.3), and PREPROCESSED = T's input.
   * The caller owns (and disposes) every returned tensor.
   */
  logitsAndFeatures(
    x: tf.Tensor4D,
    names: readonly string[],
    training: TrainingMode,
  ): { logits: tf.Tensor2D; features: Record<string, tf.Tensor> };
}

function modes(training: TrainingMode): { preprocessor: boolean; classifier: boolean } {
  return typeof training === 'boolean' ? { preprocessor: training, classifier: training } : training;
}

/** Builds the full model T(clip01(P(x))) (see the file comment). Example: `apgdCe().run(fullModel(target, purifier), x, y)`. */
export function fullModel(classifier: Classifier, preprocessor?: Preprocessor, opts: FullModelOptions = {}): FullModel {
  const options = { bpda: opts.bpda ?? false, clamp: opts.clamp ?? true };
  // F must be differentiable; under plain Node tfjs-core registers no gradients by itself.
  ensureGradients();

  const forwardP = (x: tf.Tensor4D, training: boolean): tf.Tensor4D =>
    tf.tidy(() => {
      const p = preprocessor!.apply(x, training) as tf.Tensor4D;
      return options.clamp ? tf.clipByValue(p, 0, 1) : p;
    });

  // BPDA: P's forward value, identity gradient to x. Ops inside customGrad are not taped, so P's
  // variables receive no gradient through this path (they are not being trained by an attacker).
  const bpdaP = (training: boolean): ((x: tf.Tensor4D) => tf.Tensor4D) =>
    tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const x = args[0] as tf.Tensor4D;
      return { value: forwardP(x, training) as tf.Tensor, gradFunc: (dy: tf.Tensor) => dy };
    }) as unknown as (x: tf.Tensor4D) => tf.Tensor4D;

  const preprocess = (x: tf.Tensor4D, training: TrainingMode): tf.Tensor4D => {
    if (preprocessor === undefined) return tf.clone(x);
    const m = modes(training).preprocessor;
    return options.bpda ? bpdaP(m)(x) : forwardP(x, m);
  };

  const logits: LogitsFn = (x) =>
    tf.tidy(() => {
      const t = preprocessor === undefined ? x : preprocess(x, false);
      return classifier.apply(t, false) as tf.Tensor2D;
    });

  const logitsAndFeatures = (
    x: tf.Tensor4D,
    names: readonly string[],
    training: TrainingMode,
  ): { logits: tf.Tensor2D; features: Record<string, tf.Tensor> } => {
    const m = modes(training);
    const wantPre = names.includes(PREPROCESSED);
    const tNames = names.filter((n) => n !== PREPROCESSED);
    // tidy keeps every tensor reachable from the returned object (output and all features).
    const result = tf.tidy(() => {
      const t = preprocess(x, m);
      const { output, features } = classifier.applyWithFeatures(t, tNames, m.classifier);
      const all: Record<string, tf.Tensor> = { ...features };
      if (wantPre) all[PREPROCESSED] = t;
      return { output, all };
    });
    return { logits: result.output as tf.Tensor2D, features: result.all };
  };

  return {
    classifier,
    ...(preprocessor === undefined ? {} : { preprocessor }),
    options,
    logits,
    preprocess,
    logitsAndFeatures,
  };
}
