/**
 * Natural (clean) training: L = CE(f(x), y), the non-robust reference a robust recipe is compared
 * with: a robust recipe must reach PGD-20 accuracy well above this one's.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../../models/types.js';
import type { Batch } from '../../training/types.js';
import { ClassifierRecipe } from './classifier-recipe.js';
import { crossEntropy } from '../../classifier-losses.js';

/** Natural (non-adversarial) training as a recipe for `runTraining`. */
export class NaturalRecipe extends ClassifierRecipe {
  readonly name = 'natural';

  constructor(network: Classifier) {
    super(network);
  }

  protected loss(batch: Batch): { total: tf.Scalar; parts: Record<string, tf.Scalar> } {
    return { total: crossEntropy(this.trainLogits(batch.x), batch.y), parts: {} };
  }
}
