import type * as tf from '@tensorflow/tfjs-core';
import type { Batch } from '../data/types.js';

// The batch type belongs to the data pipeline that makes it; re-exported for recipes.
export type { Batch } from '../data/types.js';

/**
 * A training recipe = what differs between Standard AT, TRADES, MART, MMA, JATP, APE-G, HGD, NRP:
 * its loss on a batch and which variables it updates. The loop (epochs, schedule, optimizer,
 * checkpoint/resume, progress, metrics) is written once in training/loop.ts and shared by all.
 */
export interface Recipe {
  readonly name: string;
  /**
   * Groups of variables, each updated by its own optimizer (most recipes have one group 'main';
   * GANs have 'generator' and 'discriminator').
   */
  variableGroups(): Record<string, tf.Variable[]>;
  /**
   * One optimisation step on `batch`. Implementations compute gradients with `tf.variableGrads`
   * (or optimizer.minimize) and apply them with `optimizers[group]`; returns scalar metrics
   * (e.g. { loss, lossClean, lossAdv }) already read back as numbers.
   */
  step(batch: Batch, optimizers: Record<string, tf.Optimizer>, seed: number): Record<string, number>;
  /** Every tensor a checkpoint must hold to resume bitwise (network weights incl. BN statistics, recipe state). */
  stateTensors(): Map<string, tf.Variable>;
}
