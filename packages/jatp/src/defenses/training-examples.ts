/**
 * Where a baseline pre-processor's (natural, adversarial) training pairs come from — the paper's
 * Obl vs Full comparison (spec §4, §4.4):
 *
 * - 'oblivious' (default, spec §4): examples crafted once against the target alone and cached on disk
 *   (example-cache.ts); the loop then hands the recipe paired batches [natural | adversarial] along
 *   the channel axis, so crop/flip augmentation moves both halves together.
 * - 'full' (spec §4.4): PGD-40 (CE, step 0.007, eps 8/255, uniform random start) against the full
 *   model T(clip01(P(.))) with the *current* pre-processor, crafted per batch.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier, Preprocessor } from '../models/types.js';
import { fullModel } from '../models/full-model.js';
import { Pgd } from '../attacks/pgd.js';
import type { Batch } from '../training/types.js';
import { splitPairedBatch } from './recipe-helpers.js';
import { PAPER_EPS } from '../data/threat-model.js';

/** Which adversarial examples a baseline trains on: oblivious (against T alone, cached) or full (against T ∘ P). */
export type ExampleMode = 'oblivious' | 'full';

/** PGD settings of the baselines' training examples (spec §4: PGD-40, step 0.007, eps 8/255). */
export interface BaselinePgdOptions {
  readonly eps: number;
  readonly steps: number;
  readonly stepSize: number;
  readonly randomStart: boolean;
}

/** Defaults of the baselines' PGD (spec §4): ε = 8/255, 40 steps of 0.007, random start. */
export const BASELINE_PGD_DEFAULTS: BaselinePgdOptions = { eps: PAPER_EPS, steps: 40, stepSize: 0.007, randomStart: true };

/** PGD-40 through the current pre-processor (spec §4.4); P and T in eval mode; gradients through P. */
export function fullAdversarialExamples(
  target: Classifier,
  preprocessor: Preprocessor,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  options: BaselinePgdOptions,
  seed: number,
): tf.Tensor4D {
  const attack = new Pgd({ norm: 'Linf', loss: 'ce', keepBest: false, ...options });
  return attack.run(fullModel(target, preprocessor).logits, x, y, seed).xAdv;
}

/**
 * The (natural, adversarial) pair of one batch in `mode`. Both returned tensors belong to the caller.
 * `channels` is the image channel count (paired batches have twice as many).
 */
export function trainingPair(
  batch: Batch,
  mode: ExampleMode,
  channels: number,
  target: Classifier,
  preprocessor: Preprocessor,
  pgd: BaselinePgdOptions,
  seed: number,
): { natural: tf.Tensor4D; adversarial: tf.Tensor4D } {
  if (mode === 'oblivious') return splitPairedBatch(batch.x, channels);
  if (batch.x.shape[3] !== channels) {
    throw new Error(`defenses: examples 'full' expects plain batches with ${channels} channels, got ${batch.x.shape[3]}`);
  }
  const adversarial = fullAdversarialExamples(target, preprocessor, batch.x, batch.y, pgd, seed);
  return { natural: tf.clone(batch.x), adversarial };
}
