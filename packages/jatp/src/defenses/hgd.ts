/**
 * HGD — high-level representation guided denoiser (Liao et al., "Defense against Adversarial Attacks
 * Using High-Level Representation Guided Denoiser", CVPR 2018), a baseline of the JATP paper (spec §4.2).
 *
 * The denoiser D (DUNET, residual output x^ = x_adv + D_res(x_adv)) is trained so that the frozen
 * target sees the same high-level representation for x^ as for the clean x:
 *   L = mean | f_l(D(x_adv)) − f_l(x) |          (L1, spec §4.2)
 * with f_l = T's logits (LGD, the default, A14) or an internal feature map (FGD, e.g. ResNet-18
 * 'layer4'). T is frozen, eval mode; only D is updated. x_adv: oblivious PGD-40 against T (cached)
 * or, with examples 'full', PGD-40 through the current D (spec §4.4).
 * Optimiser (presets.ts, A13/A14): Adam 1e-3, batch 32, 100 epochs, lr x0.1 after 60 %, x0.01 after 90 %.
 *
 * Usage: `new HgdRecipe(denoiser, target, { guidance: 'logits' })` (variable group 'main').
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier, Preprocessor } from '../models/types.js';
import type { Batch, Recipe } from '../training/types.js';
import { hgdGuidanceLoss, type HgdGuidance } from './purifier-losses.js';
import { checkFeatureName, optimizeGroup, prefixedWeights, accuracy } from './recipe-helpers.js';
import { ensureGradients } from '../gradients.js';
import { BASELINE_PGD_DEFAULTS, trainingPair, type BaselinePgdOptions, type ExampleMode } from './training-examples.js';

/** Options of the HGD recipe (defaults: HGD_DEFAULTS, spec §4.2). */
export interface HgdOptions {
  /** LGD ('logits', default) or FGD ('features'). */
  readonly guidance: HgdGuidance;
  /** T's feature map for FGD (spec §4.2: ResNet-18 'layer4'). Ignored for LGD. */
  readonly guidanceFeature: string;
  /** Oblivious (cached, spec §4) or full (spec §4.4) adversarial examples. Default 'oblivious'. */
  readonly examples: ExampleMode;
  /** PGD for 'full' examples. */
  readonly pgd: BaselinePgdOptions;
}

/** Defaults of HGD training (spec §4.2). */
export const HGD_DEFAULTS: HgdOptions = {
  guidance: 'logits',
  guidanceFeature: 'layer4',
  examples: 'oblivious',
  pgd: BASELINE_PGD_DEFAULTS,
};

/** HGD (high-level representation guided denoiser) as a training recipe for `runTraining`. */
export class HgdRecipe implements Recipe {
  readonly name = 'hgd';
  readonly options: HgdOptions;
  private readonly channels: number;

  constructor(
    readonly denoiser: Preprocessor,
    readonly target: Classifier,
    options: Partial<HgdOptions> = {},
  ) {
    ensureGradients();
    this.options = { ...HGD_DEFAULTS, ...options };
    if (this.options.guidance === 'features') checkFeatureName(target, this.options.guidanceFeature);
    this.channels = Number(denoiser.options['inChannels'] ?? 3);
  }

  variableGroups(): Record<string, tf.Variable[]> {
    return { main: this.denoiser.trainableVariables() };
  }

  stateTensors(): Map<string, tf.Variable> {
    return prefixedWeights('purifier', this.denoiser);
  }

  /** f_l of the frozen target (eval mode): logits or the guidance feature map, plus the logits. */
  private representation(x: tf.Tensor4D): { guide: tf.Tensor; logits: tf.Tensor2D } {
    if (this.options.guidance === 'logits') {
      const logits = this.target.apply(x, false) as tf.Tensor2D;
      return { guide: logits, logits };
    }
    const { output, features } = this.target.applyWithFeatures(x, [this.options.guidanceFeature], false);
    return { guide: features[this.options.guidanceFeature]!, logits: output as tf.Tensor2D };
  }

  step(batch: Batch, optimizers: Record<string, tf.Optimizer>, seed: number): Record<string, number> {
    const optimizer = optimizers['main'];
    if (optimizer === undefined) throw new Error("hgd: no optimizer for variable group 'main'");
    const { natural, adversarial } = trainingPair(batch, this.options.examples, this.channels, this.target, this.denoiser, this.options.pgd, seed);
    const reference = tf.tidy(() => this.representation(natural).guide);
    try {
      return optimizeGroup(optimizer, this.variableGroups()['main']!, () => {
        const denoised = this.denoiser.apply(adversarial, true) as tf.Tensor4D;
        const { guide, logits } = this.representation(denoised);
        return { total: hgdGuidanceLoss(guide, reference), metrics: { accAdv: accuracy(logits, batch.y) } };
      });
    } finally {
      tf.dispose([natural, adversarial, reference]);
    }
  }
}
