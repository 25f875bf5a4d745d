/**
 * Standard adversarial training (Madry et al., "Towards Deep Learning Models Resistant to Adversarial
 * Attacks", ICLR 2018), as configured by the JATP paper (spec §3.2):
 *   x_adv = PGD-10(CE, start x + 0.001·N(0,I), step 0.007, eps 8/255), model in eval mode;
 *   L = CE(f(x_adv), y) in train mode.
 * Options (defaults): attack = TRAIN_ATTACK_DEFAULTS.
 * Usage: `runTraining(new StandardRecipe(buildNetwork('resnet18', {}) as Classifier), opts)`.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../../models/types.js';
import type { Batch } from '../../training/types.js';
import { ClassifierRecipe, TRAIN_ATTACK_DEFAULTS, checkTrainAttackOptions, trainingAttack, type ClassifierRecipeOptions } from './classifier-recipe.js';
import { crossEntropy } from '../../classifier-losses.js';

/** Standard adversarial training (Madry PGD AT, spec §3.2) as a recipe for `runTraining`. */
export class StandardRecipe extends ClassifierRecipe {
  readonly name = 'standard';
  readonly options: ClassifierRecipeOptions;

  constructor(network: Classifier, options: Partial<ClassifierRecipeOptions> = {}) {
    super(network);
    this.options = { attack: { ...TRAIN_ATTACK_DEFAULTS, ...options.attack } };
    checkTrainAttackOptions(this.options.attack, 'standard recipe');
  }

  protected override prepare(batch: Batch, seed: number): tf.Tensor[] {
    return [trainingAttack(this.evalLogits, batch.x, batch.y, { kind: 'ce' }, this.options.attack, seed)];
  }

  protected loss(batch: Batch, [xAdv]: tf.Tensor[]): { total: tf.Scalar; parts: Record<string, tf.Scalar> } {
    return { total: crossEntropy(this.trainLogits(xAdv as tf.Tensor4D), batch.y), parts: {} };
  }
}
