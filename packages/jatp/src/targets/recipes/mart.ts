/**
 * MART (Wang et al., "Improving Adversarial Robustness Requires Revisiting Misclassified Examples",
 * ICLR 2020), spec §3.2:
 *   x_adv = PGD-10(CE) in eval mode;
 *   L = BCE(f(x_adv), y) + beta · (1/B) sum_i KL(p(x_i) || p(x_adv_i)) · (1 - p(x_i)_y)
 *   with BCE = CE + mean -log(1 - max_{k != y} p_adv_k)  (the "boosted" cross-entropy),
 *   constants 1.0001 / 1e-12 / 1.0000001 as in the reference code.
 * Options (defaults): beta = 6 (paper §4.1; MART's script default is 5), attack = TRAIN_ATTACK_DEFAULTS.
 * Metrics: loss, lossAdv (boosted CE), lossRobust (weighted KL, before beta).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../../models/types.js';
import type { Batch } from '../../training/types.js';
import { ClassifierRecipe, TRAIN_ATTACK_DEFAULTS, checkTrainAttackOptions, trainingAttack, type ClassifierRecipeOptions } from './classifier-recipe.js';
import { boostedCrossEntropy, martWeightedKl } from '../../classifier-losses.js';

/** Options of the MART recipe (defaults: MART_DEFAULTS, β = 6). */
export interface MartOptions extends ClassifierRecipeOptions {
  beta: number;
}

/** Defaults of MART (spec §3.2): β = 6. */
export const MART_DEFAULTS = { beta: 6 } as const;

/** MART adversarial training (spec §3.2) as a recipe for `runTraining`. */
export class MartRecipe extends ClassifierRecipe {
  readonly name = 'mart';
  readonly options: MartOptions;

  constructor(network: Classifier, options: Partial<MartOptions> = {}) {
    super(network);
    this.options = { beta: options.beta ?? MART_DEFAULTS.beta, attack: { ...TRAIN_ATTACK_DEFAULTS, ...options.attack } };
    checkTrainAttackOptions(this.options.attack, 'mart recipe');
    if (!(this.options.beta >= 0)) throw new Error(`mart recipe: beta must be >= 0, got ${this.options.beta}`);
  }

  protected override prepare(batch: Batch, seed: number): tf.Tensor[] {
    return [trainingAttack(this.evalLogits, batch.x, batch.y, { kind: 'ce' }, this.options.attack, seed)];
  }

  protected loss(batch: Batch, [xAdv]: tf.Tensor[]): { total: tf.Scalar; parts: Record<string, tf.Scalar> } {
    const zNat = this.trainLogits(batch.x);
    const zAdv = this.trainLogits(xAdv as tf.Tensor4D);
    const lossAdv = boostedCrossEntropy(zAdv, batch.y);
    const lossRobust = martWeightedKl(zNat, zAdv, batch.y);
    return { total: tf.add(lossAdv, tf.mul(lossRobust, this.options.beta)) as tf.Scalar, parts: { lossAdv, lossRobust } };
  }
}
