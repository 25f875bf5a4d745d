/**
 * APE-G — APE-GAN (Shen et al., "APE-GAN: Adversarial Perturbation Elimination with GAN", 2017),
 * a baseline of the JATP paper (spec §4.1).
 *
 * Per batch of (x, x_adv) pairs: one discriminator step on
 *   L_D = BCE(D(x), 1) + BCE(D(G(x_adv)), 0)          (G(x_adv) detached)
 * then two generator steps on
 *   L_G = 0.7 MSE(G(x_adv), x) + 0.3 BCE(D(G(x_adv)), 1).
 * Both networks in train mode (BN batch statistics), as in the reference train.py. x_adv are oblivious
 * PGD-40 examples against the target (cached) or, with examples 'full', PGD-40 through the current G
 * (spec §4.4). Optimiser (presets.ts): Adam 2e-4, betas (0.5, 0.999), batch 128, 30 epochs.
 *
 * Usage: `new ApegRecipe(generator, discriminator, target, { examples: 'oblivious' })`, with variable
 * groups 'generator' and 'discriminator' for runTraining.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier, Network, Preprocessor } from '../models/types.js';
import type { Batch, Recipe } from '../training/types.js';
import { apegDiscriminatorLoss, apegGeneratorLoss, DEFAULT_APEG_GENERATOR_WEIGHTS, type ApegGeneratorWeights } from './purifier-losses.js';
import { optimizeGroup, prefixedWeights } from './recipe-helpers.js';
import { ensureGradients } from '../gradients.js';
import { BASELINE_PGD_DEFAULTS, trainingPair, type BaselinePgdOptions, type ExampleMode } from './training-examples.js';

/** Options of the APE-G recipe (defaults: APEG_DEFAULTS, spec §4.1). */
export interface ApegOptions {
  /** Oblivious (cached, spec §4) or full (spec §4.4) adversarial examples. Default 'oblivious'. */
  readonly examples: ExampleMode;
  /** PGD for 'full' examples (the cached oblivious ones record their own settings). */
  readonly pgd: BaselinePgdOptions;
  /** ξ1 = 0.7 (MSE), ξ2 = 0.3 (adversarial). */
  readonly weights: ApegGeneratorWeights;
  /** Generator steps per discriminator step (reference train.py: 2). */
  readonly generatorSteps: number;
}

/** Defaults of APE-G training (spec §4.1). */
export const APEG_DEFAULTS: ApegOptions = {
  examples: 'oblivious',
  pgd: BASELINE_PGD_DEFAULTS,
  weights: DEFAULT_APEG_GENERATOR_WEIGHTS,
  generatorSteps: 2,
};

/** APE-G (APE-GAN generator + discriminator) as a training recipe for `runTraining`. */
export class ApegRecipe implements Recipe {
  readonly name = 'apeg';
  readonly options: ApegOptions;
  private readonly channels: number;

  constructor(
    readonly generator: Preprocessor,
    readonly discriminator: Network,
    readonly target: Classifier,
    options: Partial<ApegOptions> = {},
  ) {
    ensureGradients();
    this.options = { ...APEG_DEFAULTS, ...options };
    this.channels = Number(generator.options['inChannels'] ?? 3);
  }

  variableGroups(): Record<string, tf.Variable[]> {
    return { generator: this.generator.trainableVariables(), discriminator: this.discriminator.trainableVariables() };
  }

  stateTensors(): Map<string, tf.Variable> {
    return prefixedWeights('discriminator', this.discriminator, prefixedWeights('purifier', this.generator));
  }

  /**
   * The discriminator's loss on natural images and fixed generated ones (both through D in training
   * mode). Like `generatorObjective`, public so that a port of the recipe can be checked against
   * exactly what `step` differentiates; call it inside tf.tidy or tf.variableGrads.
   */
  discriminatorObjective(natural: tf.Tensor4D, fake: tf.Tensor4D): { total: tf.Scalar; metrics: Record<string, tf.Scalar> } {
    const total = apegDiscriminatorLoss(this.discriminator.apply(natural, true), this.discriminator.apply(fake, true), 'probability');
    return { total, metrics: {} };
  }

  /** The generator's loss: ξ1 MSE(G(x_adv), x) + ξ2 BCE(D(G(x_adv)), 1), G and D in training mode. */
  generatorObjective(natural: tf.Tensor4D, adversarial: tf.Tensor4D): { total: tf.Scalar; metrics: Record<string, tf.Scalar> } {
    const generated = this.generator.apply(adversarial, true) as tf.Tensor4D;
    const parts = apegGeneratorLoss(generated, natural, this.discriminator.apply(generated, true), this.options.weights, 'probability');
    return { total: parts.total, metrics: { mse: parts.mse, adversarial: parts.adversarial } };
  }

  step(batch: Batch, optimizers: Record<string, tf.Optimizer>, seed: number): Record<string, number> {
    const optG = optimizers['generator'];
    const optD = optimizers['discriminator'];
    if (optG === undefined || optD === undefined) throw new Error("apeg: needs optimizers for groups 'generator' and 'discriminator'");
    const { natural, adversarial } = trainingPair(batch, this.options.examples, this.channels, this.target, this.generator, this.options.pgd, seed);
    try {
      const fake = tf.tidy(() => this.generator.apply(adversarial, true));
      const d = optimizeGroup(optD, this.variableGroups()['discriminator']!, () => this.discriminatorObjective(natural, fake as tf.Tensor4D));
      fake.dispose();
      let g: Record<string, number> = {};
      for (let k = 0; k < this.options.generatorSteps; k++) {
        g = optimizeGroup(optG, this.variableGroups()['generator']!, () => this.generatorObjective(natural, adversarial));
      }
      return { loss: g['loss']!, lossD: d['loss']!, lossG: g['loss']!, mse: g['mse']!, lossGAdv: g['adversarial']! };
    } finally {
      tf.dispose([natural, adversarial]);
    }
  }
}
