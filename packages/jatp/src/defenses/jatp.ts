/**
 * JATP — Joint Adversarial Training based Pre-processing (Zhou et al., "Improving White-box Robustness
 * of Pre-processing Defenses via Joint Adversarial Training", arXiv 2106.05453), Algorithm 1.
 *
 * Per batch (spec §2.4–2.6):
 *   1. craft *full* adversarial examples in feature space (Eq. 5) against the current pre-processor P
 *      and the frozen target T (eval mode): maximise MSE(feat(T, P(x~)), feat(T, P(x))) over the
 *      L∞ ball, K sign steps of 0.01 from a uniform random start;
 *   2. minimise L_JATP = mean_i[BCE_i + α FSM_i (1 − p_y(T(P(x_i))))] + β MSE(P(x~*), x) (Eqs. 6–10)
 *      with respect to P only (T frozen, eval mode, never updated).
 * JATP′ (jatp-joint.ts) is the same recipe with T updated too.
 *
 * Options (defaults in JATP_DEFAULTS): featureLayer 'default' (= the target's default JATP feature,
 * ResNet-18 'layer3', spec §2.3 A), eps 8/255, attackSteps 10 (A2), attackStepSize 0.01, random start
 * on, loss α 5 β 3 with ablation switches (purifier-losses.ts). Optimiser/schedule/epochs: presets.ts.
 *
 * Usage:
 *   const recipe = new JatpRecipe(purifier, target);
 *   await runTraining(recipe, { optimizers: { main: { kind: 'sgd', lr: 0.01, momentum: 0.9, weightDecay: 2e-4 } }, ... });
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier, Preprocessor } from '../models/types.js';
import type { Batch, Recipe } from '../training/types.js';
import { DEFAULT_JATP_LOSS_OPTIONS, jatpLoss, withJatpLossDefaults, type JatpLossOptions } from './purifier-losses.js';
import { accuracy, checkFeatureName, defaultFeatureOf, optimizeGroup, prefixedWeights } from './recipe-helpers.js';
import { ensureGradients } from '../gradients.js';
import { FeatureAttack } from '../attacks/feature-attack.js';
import { PAPER_EPS } from '../data/threat-model.js';

/** Options of the JATP recipe (defaults: JATP_DEFAULTS, spec §2.5–2.6). */
export interface JatpOptions {
  /** Internal feature of T for Eq. 5 and Eq. 8; 'default' = the target's declared default (spec §2.3). */
  readonly featureLayer: string;
  /** L∞ radius of the Eq. 5 attack (spec §2.4). */
  readonly eps: number;
  /** Sign steps of the Eq. 5 attack (spec A2: 10). */
  readonly attackSteps: number;
  /** Step size of the Eq. 5 attack (spec §2.4: 0.01). */
  readonly attackStepSize: number;
  /** Uniform U(-eps, eps) start (spec A2). */
  readonly attackRandomStart: boolean;
  /** Loss weights and ablations (Eqs. 6–10). */
  readonly loss: JatpLossOptions;
}

/** Defaults of JATP training (spec §2.5–2.6): ε = 8/255, feature attack K = 10 of step 0.01, α = 5, β = 3. */
export const JATP_DEFAULTS: JatpOptions = {
  featureLayer: 'default',
  eps: PAPER_EPS,
  attackSteps: 10,
  attackStepSize: 0.01,
  attackRandomStart: true,
  loss: DEFAULT_JATP_LOSS_OPTIONS,
};

/** Full JATP options from partial ones (the nested loss options through `withJatpLossDefaults`). */
export function resolveJatpOptions(options: Partial<Omit<JatpOptions, 'loss'>> & { loss?: Partial<JatpLossOptions> } = {}): JatpOptions {
  return { ...JATP_DEFAULTS, ...options, loss: withJatpLossDefaults(options.loss) };
}

/** JATP (Algorithm 1) as a training recipe for `runTraining`: full adversarial examples in feature space, then the JATP loss on P. */
export class JatpRecipe implements Recipe {
  readonly name: string = 'jatp';
  readonly options: JatpOptions;
  /** The T feature used by the attack and the FSM term, after resolving 'default'. */
  readonly featureName: string;
  /** JATP′ sets this: T is trained too, in train mode for the update step (spec §2.7). */
  protected readonly updateTarget: boolean = false;

  constructor(
    readonly purifier: Preprocessor,
    readonly target: Classifier,
    options: Partial<Omit<JatpOptions, 'loss'>> & { loss?: Partial<JatpLossOptions> } = {},
  ) {
    ensureGradients();
    this.options = resolveJatpOptions(options);
    const requested = this.options.featureLayer === 'default' ? defaultFeatureOf(target) : this.options.featureLayer;
    this.featureName = checkFeatureName(target, requested);
  }

  variableGroups(): Record<string, tf.Variable[]> {
    const vars = this.purifier.trainableVariables();
    return { main: this.updateTarget ? [...vars, ...this.target.trainableVariables()] : vars };
  }

  stateTensors(): Map<string, tf.Variable> {
    const state = prefixedWeights('purifier', this.purifier);
    // T is frozen in JATP, so its weights need no checkpoint; JATP′ changes T and must store it.
    if (this.updateTarget) prefixedWeights('target', this.target, state);
    return state;
  }

  /**
   * Eq. 5: full adversarial examples in feature space against the current P and T (both eval mode).
   * `start` replaces the random start (a port check needs both sides to start from the same point).
   */
  craftAdversarial(x: tf.Tensor4D, seed: number, start?: tf.Tensor4D): tf.Tensor4D {
    const o = this.options;
    const featureOf = (z: tf.Tensor4D): tf.Tensor => {
      const purified = this.purifier.apply(z, false) as tf.Tensor4D;
      const { output, features } = this.target.applyWithFeatures(purified, [this.featureName], false);
      output.dispose();
      return features[this.featureName]!;
    };
    return new FeatureAttack({ eps: o.eps, steps: o.attackSteps, stepSize: o.attackStepSize, randomStart: o.attackRandomStart }).craft(featureOf, x, seed, start);
  }

  /**
   * Eqs. 6–10 on one batch and its crafted x~*: the loss the step minimises and its metrics (scalars
   * the caller disposes; call it inside tf.tidy or tf.variableGrads, which free the intermediates). Public so that a port of the recipe (bench/reference_models.py) can be
   * checked against exactly what `step` differentiates.
   */
  objective(batch: Batch, xAdv: tf.Tensor4D): { total: tf.Scalar; metrics: Record<string, tf.Scalar> } {
    const tTraining = this.updateTarget;
    const purifiedAdv = this.purifier.apply(xAdv, true) as tf.Tensor4D;
    const purifiedNat = this.purifier.apply(batch.x, true) as tf.Tensor4D;
    // spec §2.5: P's output goes to T and to the pixel loss unclamped (A4).
    const adv = this.target.applyWithFeatures(purifiedAdv, [this.featureName], tTraining);
    const nat = this.target.applyWithFeatures(purifiedNat, [this.featureName], tTraining);
    const terms = jatpLoss(
      {
        logitsAdv: adv.output as tf.Tensor2D,
        logitsNat: nat.output as tf.Tensor2D,
        featuresAdv: adv.features[this.featureName]!,
        featuresNat: nat.features[this.featureName]!,
        purifiedAdv,
        natural: batch.x,
        labels: batch.y,
      },
      this.options.loss,
    );
    return {
      total: terms.total,
      metrics: {
        bce: terms.bce,
        fsm: terms.weightedFsm,
        pixel: terms.pixel,
        accAdv: accuracy(adv.output as tf.Tensor2D, batch.y),
        accNat: accuracy(nat.output as tf.Tensor2D, batch.y),
      },
    };
  }

  step(batch: Batch, optimizers: Record<string, tf.Optimizer>, seed: number): Record<string, number> {
    const optimizer = optimizers['main'];
    if (optimizer === undefined) throw new Error(`${this.name}: no optimizer for variable group 'main'`);
    const xAdv = this.craftAdversarial(batch.x, seed);
    try {
      return optimizeGroup(optimizer, this.variableGroups()['main']!, () => this.objective(batch, xAdv));
    } finally {
      xAdv.dispose();
    }
  }
}
