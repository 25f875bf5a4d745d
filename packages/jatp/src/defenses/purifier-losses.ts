import * as tf from '@tensorflow/tfjs-core';
import { boostedCrossEntropy, detach } from '../classifier-losses.js';

/**
 * Losses of the pre-processing defenses: JATP (paper Eqs. 6–10, spec §2.5) and the three baselines
 * APE-G (spec §4.1), HGD (spec §4.2) and NRP (spec §4.3).
 *
 * Conventions: images NHWC float32; logits [N, K]; labels int32 [N]. Functions whose name ends in
 * `PerExample` return a [N] tensor; the others return a scalar. None of them disposes its inputs, and
 * all are differentiable so they can be used inside `tf.variableGrads`. The boosted cross-entropy
 * (Eq. 7) and the stop-gradient are shared with target training and come from the losses module.
 */

/**
 * Feature similarity metric (paper Eq. 8): per-example mean squared difference over every
 * non-batch element (C x H x W of a feature map, or K of logits).
 */
export function featureSimilarityPerExample(a: tf.Tensor, b: tf.Tensor): tf.Tensor1D {
  if (a.shape.join(',') !== b.shape.join(',')) {
    throw new Error(`featureSimilarity: shapes differ (${a.shape} vs ${b.shape})`);
  }
  return tf.tidy(() => {
    const flat = tf.reshape(tf.squaredDifference(a, b), [a.shape[0], -1]);
    return tf.mean(flat, 1) as tf.Tensor1D;
  });
}

/**
 * How Eq. 6's "L2 loss" is scaled (spec A6): 'mse' = mean squared error over all elements (default);
 * 'l2' = per-image Euclidean norm, averaged over the batch.
 */
export type PixelLossForm = 'mse' | 'l2';

/** Pixel loss `|| P(x~) - x ||` (paper Eq. 6), in the chosen form (spec A6). */
export function pixelLoss(purified: tf.Tensor, natural: tf.Tensor, form: PixelLossForm = 'mse'): tf.Scalar {
  return tf.tidy(() => {
    if (form === 'mse') return tf.mean(tf.squaredDifference(purified, natural)) as tf.Scalar;
    const perImage = tf.sum(tf.reshape(tf.squaredDifference(purified, natural), [purified.shape[0], -1]), 1);
    // sqrt has an infinite derivative at 0; the tiny floor keeps a perfect reconstruction finite.
    return tf.mean(tf.sqrt(tf.add(perImage, 1e-12))) as tf.Scalar;
  });
}

/** Options of the JATP loss (paper Eqs. 9–10, spec §2.5 and Fig. 4(b) ablations). */
export interface JatpLossOptions {
  /** Weight of the FSM term, paper α. Default 5. */
  readonly alpha: number;
  /** Weight of the pixel term, paper β. Default 3. */
  readonly beta: number;
  /** Ablation "w/o Pix": drop the pixel loss (β = 0). Default false. */
  readonly noPixel: boolean;
  /** Ablation "w/o BCE": drop the boosted cross-entropy. Default false. */
  readonly noBce: boolean;
  /** Ablation "w/o FSM": drop the FSM term (α = 0). Default false. */
  readonly noFsm: boolean;
  /** Eq. 6 scaling (spec A6). Default 'mse'. */
  readonly pixelForm: PixelLossForm;
  /**
   * Detach the natural branch (features of T(P(x)) and the weight 1 - p_y) — spec A5 alternative.
   * Default false (MART convention: gradients flow through both branches).
   */
  readonly detachNatural: boolean;
}

/** Defaults of the JATP loss (spec §2.5): α = 5, β = 3, no ablation, MSE pixel loss, natural branch not detached. */
export const DEFAULT_JATP_LOSS_OPTIONS: JatpLossOptions = {
  alpha: 5,
  beta: 3,
  noPixel: false,
  noBce: false,
  noFsm: false,
  pixelForm: 'mse',
  detachNatural: false,
};

/** Full JATP loss options from partial ones: the one place the loss defaults are merged in. */
export function withJatpLossDefaults(options: Partial<JatpLossOptions> = {}): JatpLossOptions {
  return { ...DEFAULT_JATP_LOSS_OPTIONS, ...options };
}

/** The tensors the JATP loss needs, all from one forward of P and T on x~* and on x. */
export interface JatpLossInputs {
  /** t(P(x~*)): target logits on the purified adversarial batch, [N, K]. */
  readonly logitsAdv: tf.Tensor2D;
  /** t(P(x)): target logits on the purified natural batch, [N, K]. */
  readonly logitsNat: tf.Tensor2D;
  /** feat(T, P(x~*)): internal feature map on the purified adversarial batch. */
  readonly featuresAdv: tf.Tensor;
  /** feat(T, P(x)): internal feature map on the purified natural batch. */
  readonly featuresNat: tf.Tensor;
  /** P(x~*), unclamped (spec A4). */
  readonly purifiedAdv: tf.Tensor4D;
  /** The natural batch x. */
  readonly natural: tf.Tensor4D;
  readonly labels: tf.Tensor1D;
}

/** The JATP loss and its parts, each a scalar the caller disposes. */
export interface JatpLossTerms {
  /** L_JATP = L_adv + β L_pix (Eq. 10), the quantity minimised. */
  readonly total: tf.Scalar;
  /** mean_i l_BCE_i (0 when ablated). */
  readonly bce: tf.Scalar;
  /** mean_i l_FSM_i (1 - p_y(P(x_i))), before α (0 when ablated). */
  readonly weightedFsm: tf.Scalar;
  /** L_pix before β (0 when ablated). */
  readonly pixel: tf.Scalar;
}

/**
 * JATP loss (paper Eqs. 6–10):
 * `mean_i[ l_BCE_i + α l_FSM_i (1 - softmax(t(P(x)))_i[y_i]) ] + β L_pix(P(x~*), x)`.
 * Returns the total and its parts (each a scalar the caller disposes).
 */
export function jatpLoss(inputs: JatpLossInputs, options: Partial<JatpLossOptions> = {}): JatpLossTerms {
  const o = withJatpLossDefaults(options);
  const zero = (): tf.Scalar => tf.scalar(0);
  const bce = o.noBce ? zero() : boostedCrossEntropy(inputs.logitsAdv, inputs.labels);
  const weightedFsm = o.noFsm || o.alpha === 0 ? zero() : tf.tidy(() => {
    const featNat = o.detachNatural ? detach(inputs.featuresNat) : inputs.featuresNat;
    const fsm = featureSimilarityPerExample(inputs.featuresAdv, featNat);
    const probNat = tf.softmax(inputs.logitsNat);
    const oneHot = tf.cast(tf.oneHot(tf.cast(inputs.labels, 'int32'), inputs.logitsNat.shape[1]), 'float32');
    let misclassifiedWeight = tf.sub(1, tf.sum(tf.mul(probNat, oneHot), 1));
    if (o.detachNatural) misclassifiedWeight = detach(misclassifiedWeight);
    return tf.mean(tf.mul(fsm, misclassifiedWeight)) as tf.Scalar;
  });
  const pixel = o.noPixel || o.beta === 0 ? zero() : pixelLoss(inputs.purifiedAdv, inputs.natural, o.pixelForm);
  const total = tf.tidy(() => tf.add(tf.add(bce, tf.mul(o.alpha, weightedFsm)), tf.mul(o.beta, pixel)) as tf.Scalar);
  return { total, bce, weightedFsm, pixel };
}

/** Which representation guides the HGD denoiser (spec §4.2, A14). */
export type HgdGuidance = 'logits' | 'features';

/**
 * HGD guidance loss: `mean | f_l(x^) - f_l(x) |` (L1, exponent 1, mean over all elements) where f_l is
 * the frozen target at layer l (logits for LGD, a feature map for FGD) — spec §4.2.
 */
export function hgdGuidanceLoss(denoisedRepresentation: tf.Tensor, naturalRepresentation: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.abs(tf.sub(denoisedRepresentation, naturalRepresentation))) as tf.Scalar);
}

/**
 * Binary cross-entropy on probabilities, PyTorch `BCELoss` semantics (each log clamped at -100 so a
 * saturated sigmoid gives a large finite loss instead of Infinity). Mean over all elements.
 */
export function binaryCrossEntropyOnProbabilities(probabilities: tf.Tensor, target: 0 | 1): tf.Scalar {
  return tf.tidy(() => {
    const p = target === 1 ? probabilities : tf.sub(1, probabilities);
    return tf.neg(tf.mean(tf.maximum(tf.log(p), -100))) as tf.Scalar;
  });
}

/** Binary cross-entropy on logits, the numerically stable form `softplus(-z)` / `softplus(z)`. Mean. */
export function binaryCrossEntropyOnLogits(logits: tf.Tensor, target: 0 | 1): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.softplus(target === 1 ? tf.neg(logits) : logits)) as tf.Scalar);
}

/** What the discriminator outputs: a sigmoid probability (APE-GAN's D) or a raw logit. */
export type DiscriminatorOutput = 'probability' | 'logit';

function bce(d: tf.Tensor, target: 0 | 1, kind: DiscriminatorOutput): tf.Scalar {
  return kind === 'probability' ? binaryCrossEntropyOnProbabilities(d, target) : binaryCrossEntropyOnLogits(d, target);
}

/** APE-GAN discriminator loss (spec §4.1): `BCE(D(x), 1) + BCE(D(G(x_adv)), 0)`. */
export function apegDiscriminatorLoss(dReal: tf.Tensor, dFake: tf.Tensor, kind: DiscriminatorOutput = 'probability'): tf.Scalar {
  return tf.tidy(() => tf.add(bce(dReal, 1, kind), bce(dFake, 0, kind)) as tf.Scalar);
}

/** Weights of the APE-GAN generator loss (spec §4.1: ξ1 = 0.7, ξ2 = 0.3). */
export interface ApegGeneratorWeights {
  readonly mse: number;
  readonly adversarial: number;
}
/** APE-GAN generator loss weights (spec §4.1): ξ1 = 0.7 (MSE), ξ2 = 0.3 (adversarial). */
export const DEFAULT_APEG_GENERATOR_WEIGHTS: ApegGeneratorWeights = { mse: 0.7, adversarial: 0.3 };

/** APE-GAN generator loss (spec §4.1): `0.7 MSE(G(x_adv), x) + 0.3 BCE(D(G(x_adv)), 1)`. */
export function apegGeneratorLoss(
  generated: tf.Tensor,
  natural: tf.Tensor,
  dFake: tf.Tensor,
  weights: ApegGeneratorWeights = DEFAULT_APEG_GENERATOR_WEIGHTS,
  kind: DiscriminatorOutput = 'probability',
): { total: tf.Scalar; mse: tf.Scalar; adversarial: tf.Scalar } {
  const mse = tf.tidy(() => tf.mean(tf.squaredDifference(generated, natural)) as tf.Scalar);
  const adversarial = bce(dFake, 1, kind);
  const total = tf.tidy(() => tf.add(tf.mul(weights.mse, mse), tf.mul(weights.adversarial, adversarial)) as tf.Scalar);
  return { total, mse, adversarial };
}

/**
 * Relativistic average GAN discriminator loss on logits (spec §4.3):
 * `[BCE(D(x) - mean D(x^), 1) + BCE(D(x^) - mean D(x), 0)] / 2`.
 */
export function relativisticDiscriminatorLoss(dReal: tf.Tensor, dFake: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const realVsFake = tf.sub(dReal, tf.mean(dFake));
    const fakeVsReal = tf.sub(dFake, tf.mean(dReal));
    return tf.div(tf.add(binaryCrossEntropyOnLogits(realVsFake, 1), binaryCrossEntropyOnLogits(fakeVsReal, 0)), 2) as tf.Scalar;
  });
}

/**
 * Relativistic average GAN generator loss on logits (spec §4.3): the labels of the D loss swapped,
 * `[BCE(D(x) - mean D(x^), 0) + BCE(D(x^) - mean D(x), 1)] / 2`.
 */
export function relativisticGeneratorLoss(dReal: tf.Tensor, dFake: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const realVsFake = tf.sub(dReal, tf.mean(dFake));
    const fakeVsReal = tf.sub(dFake, tf.mean(dReal));
    return tf.div(tf.add(binaryCrossEntropyOnLogits(realVsFake, 0), binaryCrossEntropyOnLogits(fakeVsReal, 1)), 2) as tf.Scalar;
  });
}

/** Weights of the NRP purifier loss (spec §4.3, A15: α_n = 5e-3, γ_n = 1e-2, λ_n = 1). */
export interface NrpLossWeights {
  readonly adversarial: number;
  readonly pixel: number;
  readonly feature: number;
}
/** NRP purifier loss weights (spec §4.3, A15): α_n = 5e-3, γ_n = 1e-2, λ_n = 1. */
export const DEFAULT_NRP_LOSS_WEIGHTS: NrpLossWeights = { adversarial: 5e-3, pixel: 1e-2, feature: 1 };

/**
 * NRP purifier loss (spec §4.3): `α_n L_adv + γ_n L_img + λ_n L_feat` with L_adv the relativistic
 * generator loss, L_img = MSE(P(x'), x) (spec A6 convention) and L_feat = MSE(Φ(P(x')), Φ(x)).
 */
export function nrpPurifierLoss(
  parts: {
    readonly dReal: tf.Tensor;
    readonly dFake: tf.Tensor;
    readonly purified: tf.Tensor4D;
    readonly natural: tf.Tensor4D;
    readonly featuresPurified: tf.Tensor;
    readonly featuresNatural: tf.Tensor;
  },
  weights: NrpLossWeights = DEFAULT_NRP_LOSS_WEIGHTS,
): { total: tf.Scalar; adversarial: tf.Scalar; pixel: tf.Scalar; feature: tf.Scalar } {
  const adversarial = weights.adversarial === 0 ? tf.scalar(0) : relativisticGeneratorLoss(parts.dReal, parts.dFake);
  const pixel = pixelLoss(parts.purified, parts.natural, 'mse');
  const feature = tf.tidy(() => tf.mean(tf.squaredDifference(parts.featuresPurified, parts.featuresNatural)) as tf.Scalar);
  const total = tf.tidy(() => tf.add(
    tf.add(tf.mul(weights.adversarial, adversarial), tf.mul(weights.pixel, pixel)),
    tf.mul(weights.feature, feature),
  ) as tf.Scalar);
  return { total, adversarial, pixel, feature };
}
