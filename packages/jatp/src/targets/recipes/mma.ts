/**
 * MMA training (Ding et al., "MMA Training: Direct Input Space Margin Maximization through
 * Adversarial Training", ICLR 2020) in the JATP authors' "MMA-lite" form, the default of spec §3.3(a)
 * (ambiguity A10):
 *   x_adv = PGD-10(CE) in eval mode (same attack as the other recipes);
 *   c_i = [argmax f(x_i) = y_i] from the train-mode clean forward;
 *   L = (1/B) sum_i [ (1 - c_i) CE(f(x_i), y_i) + c_i CE(f(x_adv_i), y_i) ].
 * The original MMA (per-example margin search by bisection, spec §3.3(b)) is NOT implemented.
 * Options (defaults): attack = TRAIN_ATTACK_DEFAULTS.
 * Metrics: loss, cleanCorrect (fraction of the batch with c_i = 1).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../../models/types.js';
import type { Batch } from '../../training/types.js';
import { ClassifierRecipe, TRAIN_ATTACK_DEFAULTS, checkTrainAttackOptions, trainingAttack, type ClassifierRecipeOptions } from './classifier-recipe.js';
import { mmaLiteLoss } from '../../classifier-losses.js';

/** MMA-lite (spec §3.3(a)) as a recipe for `runTraining`. */
export class MmaRecipe extends ClassifierRecipe {
  readonly name = 'mma';
  readonly options: ClassifierRecipeOptions;

  constructor(network: Classifier, options: Partial<ClassifierRecipeOptions> = {}) {
    super(network);
    this.options = { attack: { ...TRAIN_ATTACK_DEFAULTS, ...options.attack } };
    checkTrainAttackOptions(this.options.attack, 'mma recipe');
  }

  protected override prepare(batch: Batch, seed: number): tf.Tensor[] {
    return [trainingAttack(this.evalLogits, batch.x, batch.y, { kind: 'ce' }, this.options.attack, seed)];
  }

  protected loss(batch: Batch, [xAdv]: tf.Tensor[]): { total: tf.Scalar; parts: Record<string, tf.Scalar> } {
    const zNat = this.trainLogits(batch.x);
    const zAdv = this.trainLogits(xAdv as tf.Tensor4D);
    return { total: mmaLiteLoss(zNat, zAdv, batch.y), parts: {} };
  }
}
