/**
 * NRP — neural representation purifier (Naseer et al., "A Self-supervised Approach for Adversarial
 * Robustness", CVPR 2020), a baseline of the JATP paper (spec §4.3).
 *
 * Training examples: self-supervised perturbations (SSP) — maximise MSE(Φ(x'), Φ(x)) over the L∞ ball
 * with a fixed feature network Φ (here the frozen target's feature layer, A15), Gaussian start, 100
 * sign steps of 0.01, eps 8/255 — generated once and cached (example-cache.ts); or, with examples
 * 'full', PGD-40 through the current purifier (spec §4.4).
 * Per batch: one purifier step on
 *   L_P = 5e-3 L_RaGAN(G) + 1e-2 MSE(P(x'), x) + 1 MSE(Φ(P(x')), Φ(x))
 * then one discriminator step on the relativistic average loss (BCE with logits) with P(x') detached.
 * Optimiser (presets.ts, A13): Adam 1e-3 for both, wd 2e-4, batch 300, 70 epochs, lr x0.3 after 40, 50, 60.
 *
 * Usage: `new NrpRecipe(purifier, discriminator, target)` (groups 'generator', 'discriminator').
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier, Network, Preprocessor } from '../models/types.js';
import type { Batch, Recipe } from '../training/types.js';
import { DEFAULT_NRP_LOSS_WEIGHTS, nrpPurifierLoss, relativisticDiscriminatorLoss, type NrpLossWeights } from './purifier-losses.js';
import { checkFeatureName, defaultFeatureOf, optimizeGroup, prefixedWeights } from './recipe-helpers.js';
import { ensureGradients } from '../gradients.js';
import { BASELINE_PGD_DEFAULTS, trainingPair, type BaselinePgdOptions, type ExampleMode } from './training-examples.js';

/** Options of the NRP recipe (defaults: NRP_DEFAULTS, spec §4.3). */
export interface NrpOptions {
  /** Φ: the target's feature map used by SSP and the feature loss; 'default' = target's JATP feature (A15). */
  readonly featureLayer: string;
  /** Oblivious = cached SSP examples (spec §4.3), or full PGD-40 through P (spec §4.4). */
  readonly examples: ExampleMode;
  /** PGD for 'full' examples. */
  readonly pgd: BaselinePgdOptions;
  /** α_n, γ_n, λ_n (A15). */
  readonly weights: NrpLossWeights;
}

/** Defaults of NRP training (spec §4.3). */
export const NRP_DEFAULTS: NrpOptions = {
  featureLayer: 'default',
  examples: 'oblivious',
  pgd: BASELINE_PGD_DEFAULTS,
  weights: DEFAULT_NRP_LOSS_WEIGHTS,
};

/** NRP (purifier + relativistic discriminator, self-supervised perturbations) as a training recipe for `runTraining`. */
export class NrpRecipe implements Recipe {
  readonly name = 'nrp';
  readonly options: NrpOptions;
  readonly featureName: string;
  private readonly channels: number;

  constructor(
    readonly purifier: Preprocessor,
    readonly discriminator: Network,
    readonly target: Classifier,
    options: Partial<NrpOptions> = {},
  ) {
    ensureGradients();
    this.options = { ...NRP_DEFAULTS, ...options };
    const requested = this.options.featureLayer === 'default' ? defaultFeatureOf(target) : this.options.featureLayer;
    this.featureName = checkFeatureName(target, requested);
    this.channels = Number(purifier.options['inChannels'] ?? 3);
  }

  variableGroups(): Record<string, tf.Variable[]> {
    return { generator: this.purifier.trainableVariables(), discriminator: this.discriminator.trainableVariables() };
  }

  stateTensors(): Map<string, tf.Variable> {
    return prefixedWeights('discriminator', this.discriminator, prefixedWeights('purifier', this.purifier));
  }

  /** Φ(x): the frozen target's feature map, eval mode. */
  phi(x: tf.Tensor4D): tf.Tensor {
    const { output, features } = this.target.applyWithFeatures(x, [this.featureName], false);
    output.dispose();
    return features[this.featureName]!;
  }

  /**
   * The purifier's loss α_n L_RaGAN(G) + γ_n MSE(P(x'), x) + λ_n MSE(Φ(P(x')), Φ(x)), P and D in
   * training mode, `phiNatural` = Φ(x) held constant. Like `discriminatorObjective`, public so that a
   * port of the recipe can be checked against exactly what `step` differentiates; call it inside
   * tf.tidy or tf.variableGrads.
   */
  generatorObjective(natural: tf.Tensor4D, adversarial: tf.Tensor4D, phiNatural: tf.Tensor): { total: tf.Scalar; metrics: Record<string, tf.Scalar> } {
    const purified = this.purifier.apply(adversarial, true) as tf.Tensor4D;
    const parts = nrpPurifierLoss(
      {
        dReal: this.discriminator.apply(natural, true),
        dFake: this.discriminator.apply(purified, true),
        purified,
        natural,
        featuresPurified: this.phi(purified),
        featuresNatural: phiNatural,
      },
      this.options.weights,
    );
    return { total: parts.total, metrics: { lossGAdv: parts.adversarial, pixel: parts.pixel, feature: parts.feature } };
  }

  /** The relativistic average discriminator loss on natural images and fixed purified ones (D in training mode). */
  discriminatorObjective(natural: tf.Tensor4D, purified: tf.Tensor4D): { total: tf.Scalar; metrics: Record<string, tf.Scalar> } {
    return { total: relativisticDiscriminatorLoss(this.discriminator.apply(natural, true), this.discriminator.apply(purified, true)), metrics: {} };
  }

  step(batch: Batch, optimizers: Record<string, tf.Optimizer>, seed: number): Record<string, number> {
    const optG = optimizers['generator'];
    const optD = optimizers['discriminator'];
    if (optG === undefined || optD === undefined) throw new Error("nrp: needs optimizers for groups 'generator' and 'discriminator'");
    const { natural, adversarial } = trainingPair(batch, this.options.examples, this.channels, this.target, this.purifier, this.options.pgd, seed);
    const phiNatural = tf.tidy(() => this.phi(natural));
    try {
      const g = optimizeGroup(optG, this.variableGroups()['generator']!, () => this.generatorObjective(natural, adversarial, phiNatural));
      const purifiedDetached = tf.tidy(() => this.purifier.apply(adversarial, false) as tf.Tensor4D);
      const d = optimizeGroup(optD, this.variableGroups()['discriminator']!, () => this.discriminatorObjective(natural, purifiedDetached));
      purifiedDetached.dispose();
      return { ...g, lossD: d['loss']! };
    } finally {
      tf.dispose([natural, adversarial, phiNatural]);
    }
  }
}
