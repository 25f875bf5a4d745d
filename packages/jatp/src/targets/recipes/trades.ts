/**
 * TRADES (Zhang et al., "Theoretically Principled Trade-off between Robustness and Accuracy",
 * ICML 2019), spec §3.2:
 *   x_adv = PGD-10 ascending sum_i KL(softmax f(x_i) || softmax f(x'_i)) (eval mode, f(x) fixed);
 *   L = CE(f(x), y) + beta · (1/B) sum_i KL(softmax f(x_i) || softmax f(x_adv_i))   (train mode,
 *   f(x) not detached).
 * Options (defaults): beta = 6 (paper §4.1), attack = TRAIN_ATTACK_DEFAULTS.
 * Metrics: loss, lossNatural (the CE), lossRobust (the KL mean, before beta).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../../models/types.js';
import type { Batch } from '../../training/types.js';
import { ClassifierRecipe, TRAIN_ATTACK_DEFAULTS, checkTrainAttackOptions, trainingAttack, type ClassifierRecipeOptions } from './classifier-recipe.js';
import { crossEntropy, tradesKl } from '../../classifier-losses.js';

/** Options of the TRADES recipe (defaults: TRADES_DEFAULTS, β = 6). */
export interface TradesOptions extends ClassifierRecipeOptions {
  beta: number;
}

/** Defaults of TRADES (spec §3.2): β = 6. */
export const TRADES_DEFAULTS = { beta: 6 } as const;

/** TRADES adversarial training (spec §3.2) as a recipe for `runTraining`. */
export class TradesRecipe extends ClassifierRecipe {
  readonly name = 'trades';
  readonly options: TradesOptions;

  constructor(network: Classifier, options: Partial<TradesOptions> = {}) {
    super(network);
    this.options = { beta: options.beta ?? TRADES_DEFAULTS.beta, attack: { ...TRAIN_ATTACK_DEFAULTS, ...options.attack } };
    checkTrainAttackOptions(this.options.attack, 'trades recipe');
    if (!(this.options.beta >= 0)) throw new Error(`trades recipe: beta must be >= 0, got ${this.options.beta}`);
  }

  protected override prepare(batch: Batch, seed: number): tf.Tensor[] {
    const logitsNat = tf.tidy(() => this.evalLogits(batch.x));
    try {
      return [trainingAttack(this.evalLogits, batch.x, batch.y, { kind: 'kl', logitsNat }, this.options.attack, seed)];
    } finally {
      logitsNat.dispose();
    }
  }

  protected loss(batch: Batch, [xAdv]: tf.Tensor[]): { total: tf.Scalar; parts: Record<string, tf.Scalar> } {
    const zNat = this.trainLogits(batch.x);
    const zAdv = this.trainLogits(xAdv as tf.Tensor4D);
    const lossNatural = crossEntropy(zNat, batch.y);
    const lossRobust = tradesKl(zNat, zAdv);
    return { total: tf.add(lossNatural, tf.mul(lossRobust, this.options.beta)) as tf.Scalar, parts: { lossNatural, lossRobust } };
  }
}
