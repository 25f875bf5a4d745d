import type * as tf from '@tensorflow/tfjs-core';

/** One augmented mini-batch from the input pipeline: x float32 NHWC in [0,1], y int32 labels. */
export interface Batch {
  readonly x: tf.Tensor4D;
  readonly y: tf.Tensor1D;
  /**
   * Optional extension: positions of the batch's examples in the training split the loop iterates
   * (after any per-class subset). Set by training/loop.ts; used by recipes that keep per-example
   * state across epochs (the original MMA's margin estimates, spec §3.3(b)).
   */
  readonly indices?: Int32Array;
}

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
