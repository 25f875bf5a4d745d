/**
 * Shared building blocks of every attack in this folder: projections onto the threat-model ball
 * intersected with the image box [0, 1], the per-example losses the attacks maximise (spec §5.1–5.3),
 * success computation, seeded randomness for random starts, and one loss-and-gradient helper that all
 * gradient attacks use (so EOT, see eot.ts, works with every one of them).
 *
 * Everything is batched: per-example quantities are tensors of shape [N] (or [N,1,1,1] for broadcasting),
 * never JS loops over examples.
 */
import * as tf from '@tensorflow/tfjs-core';
import { linfStep } from 'tfjs-backend-torch/fused';
import type { LogitsFn } from '../models/types.js';
import { ensureGradients } from '../gradients.js';
import { crossEntropyPerExample, cwMarginPerExample, dlrPerExample, targetedDlrPerExample } from '../classifier-losses.js';

// Every attack differentiates; the toolkit-wide helper registers tfjs' gradient functions once.
// Re-exported so attack files import their helpers from one place.
export { ensureGradients };

// ---------------------------------------------------------------------------------------------------
// Projections
// ---------------------------------------------------------------------------------------------------

/** Elementwise clamp to the image box. */
export function clip01<T extends tf.Tensor>(x: T): T {
  return tf.clipByValue(x, 0, 1);
}

/**
 * Proj_eps for L∞ (spec §1): clip_[0,1](clip_[x-eps, x+eps](xAdv)). Because x itself is in [0,1], the
 * second clip cannot leave the eps-box, so the result is in the ball and in the box.
 */
export function projectLinf(xAdv: tf.Tensor4D, x: tf.Tensor4D, eps: number): tf.Tensor4D {
  return tf.tidy(() => clip01(tf.minimum(tf.maximum(xAdv, tf.sub(x, eps)), tf.add(x, eps))));
}

/** Per-example L2 norm of a batch, shape [N]. */
export function l2NormPerExample(t: tf.Tensor): tf.Tensor1D {
  return tf.tidy(() => tf.sqrt(tf.sum(tf.square(tf.reshape(t, [t.shape[0]!, -1])), 1)) as tf.Tensor1D);
}

/** Per-example L∞ norm of a batch, shape [N]. */
export function linfNormPerExample(t: tf.Tensor): tf.Tensor1D {
  return tf.tidy(() => tf.max(tf.abs(tf.reshape(t, [t.shape[0]!, -1])), 1) as tf.Tensor1D);
}

/** Reshape a per-example vector [N] to [N,1,1,1] so it broadcasts over images. */
export function perExample(v: tf.Tensor1D): tf.Tensor4D {
  return tf.reshape(v, [v.shape[0], 1, 1, 1]);
}

/**
 * Projection onto the L2 ball of radius eps around x, then onto [0,1]. Rescaling the perturbation first
 * and clipping second keeps it in the ball: clipping x+delta to [0,1] only shrinks each |delta_i| when
 * x_i is in [0,1]. (This is the composition torchattacks/AutoAttack use, not the exact Euclidean
 * projection onto the intersection, which has no closed form.)
 */
export function projectL2(xAdv: tf.Tensor4D, x: tf.Tensor4D, eps: number): tf.Tensor4D {
  return tf.tidy(() => {
    const delta = tf.sub(xAdv, x);
    const norm = l2NormPerExample(delta);
    const factor = tf.minimum(1, tf.div(eps, tf.add(norm, 1e-12))) as tf.Tensor1D;
    return clip01(tf.add(x, tf.mul(delta, perExample(factor))));
  });
}

/** The norms of the gradient attacks' balls. */
export type BallNorm = 'Linf' | 'L2';

/** Projection onto the L∞ or L2 ball of radius eps around x, then onto [0, 1]. Example: `project(xAdv, x, 'Linf', 8 / 255)`. */
export function project(xAdv: tf.Tensor4D, x: tf.Tensor4D, norm: BallNorm, eps: number): tf.Tensor4D {
  return norm === 'Linf' ? projectLinf(xAdv, x, eps) : projectL2(xAdv, x, eps);
}

// ---------------------------------------------------------------------------------------------------
// Seeded randomness
// ---------------------------------------------------------------------------------------------------

/**
 * Small deterministic integer stream (mulberry32) used to derive the seeds handed to tfjs random ops.
 * tfjs' randomUniform/randomNormal draw in JS from a seeded generator, so results do not depend on the
 * backend.
 */
export class SeedStream {
  private state: number;
  constructor(seed: number) {
    this.state = (Math.floor(seed) ^ 0x9e3779b9) >>> 0;
  }
  /** Next 32-bit unsigned integer. */
  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** Next seed for a tfjs random op. */
  nextSeed(): number {
    return this.nextUint32();
  }
  /** Uniform float in [0, 1). */
  nextFloat(): number {
    return this.nextUint32() / 4294967296;
  }
}

/**
 * Random start inside the ball, then clipped to [0,1]. L∞: delta ~ U(-eps, eps) per pixel (spec §5.1,
 * advertorch). L2: a uniformly random direction (normalised Gaussian) with radius ~ U(0, eps), the
 * torchattacks choice; it is not uniform in volume, which does not matter for a random start.
 */
export function randomStart(x: tf.Tensor4D, norm: BallNorm, eps: number, seed: number): tf.Tensor4D {
  return tf.tidy(() => {
    if (norm === 'Linf') {
      return clip01(tf.add(x, tf.randomUniform(x.shape, -eps, eps, 'float32', seed)));
    }
    const rng = new SeedStream(seed);
    const direction = tf.randomNormal(x.shape, 0, 1, 'float32', rng.nextSeed());
    const unit = tf.div(direction, perExample(tf.add(l2NormPerExample(direction), 1e-12) as tf.Tensor1D));
    const radius = tf.randomUniform([x.shape[0], 1, 1, 1], 0, eps, 'float32', rng.nextSeed());
    return clip01(tf.add(x, tf.mul(unit, radius)));
  });
}

// ---------------------------------------------------------------------------------------------------
// Losses (all per-example, shape [N], to be MAXIMISED by an untargeted attacker)
// ---------------------------------------------------------------------------------------------------

/** Loss names of PGD / APGD (`lossPerExample`): cross-entropy, CW margin, DLR, targeted DLR. */
export type LossName = 'ce' | 'cw' | 'dlr' | 'dlr-targeted';

// The losses live in the shared losses module (also used by training and defenses); re-exported so
// attack files and users of the attacks module find them here.
export { crossEntropyPerExample, cwMarginPerExample, dlrPerExample, targetedDlrPerExample };

/** Evaluate the named per-example loss. `target` is required for 'dlr-targeted' only. */
export function lossPerExample(name: LossName, logits: tf.Tensor2D, y: tf.Tensor1D, target?: tf.Tensor1D): tf.Tensor1D {
  switch (name) {
    case 'ce':
      return crossEntropyPerExample(logits, y);
    case 'cw':
      return cwMarginPerExample(logits, y);
    case 'dlr':
      return dlrPerExample(logits, y);
    case 'dlr-targeted':
      if (!target) throw new Error("loss 'dlr-targeted' needs target classes");
      return targetedDlrPerExample(logits, y, target);
  }
}

// ---------------------------------------------------------------------------------------------------
// Success
// ---------------------------------------------------------------------------------------------------

/** Per-example misclassification mask (bool tensor [N]) of logits vs labels. */
export function misclassified(logits: tf.Tensor2D, y: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => tf.notEqual(tf.argMax(logits, 1), tf.cast(y, 'int32')) as tf.Tensor1D);
}

/** Untargeted success of `xAdv`: model(xAdv) predicts a label other than y. Read back as booleans. */
export function untargetedSuccess(model: LogitsFn, xAdv: tf.Tensor4D, y: tf.Tensor1D): boolean[] {
  const mask = tf.tidy(() => misclassified(model(xAdv), y));
  const values = mask.dataSync();
  mask.dispose();
  return Array.from(values, (v) => v !== 0);
}

/** Boolean mask [N] -> broadcastable [N,1,1,1] selector for tf.where on images. */
export function imageMask(mask: tf.Tensor1D, like: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.broadcastTo(perExample(tf.cast(mask, 'bool') as tf.Tensor1D), like.shape) as tf.Tensor4D);
}

// ---------------------------------------------------------------------------------------------------
// Loss and gradient in one forward/backward pass
// ---------------------------------------------------------------------------------------------------

/**
 * An x -> logits function whose forward pass is random (e.g. a randomised pre-processor). An attack that
 * meets one averages its loss gradient over `samples` draws (EOT, see eot.ts); its plain call is the mean
 * of the sampled logits.
 */
export interface EotLogitsFn extends LogitsFn {
  readonly eot: {
    readonly samples: number;
    /** Logits of the i-th random draw for this call sequence. */
    sample(x: tf.Tensor4D, i: number): tf.Tensor2D;
  };
}

/** Whether `model` is an EOT model (an EotLogitsFn from eot.ts), whose losses are averaged over draws. */
export function isEot(model: LogitsFn): model is EotLogitsFn {
  return typeof (model as Partial<EotLogitsFn>).eot === 'object';
}

/** What `lossAndGrad` returns; the caller disposes the three tensors. */
export interface LossAndGrad {
  /** d(sum_i loss_i)/dx, shape of x. */
  grad: tf.Tensor4D;
  /** Per-example loss at x, [N]. */
  loss: tf.Tensor1D;
  /** Logits at x, [N, K]. */
  logits: tf.Tensor2D;
}

/**
 * Per-example losses, logits and the gradient of the summed loss in a single forward/backward pass.
 * Summing over the batch makes each example's gradient independent of the others (spec §5.7).
 * For an EOT model the loss, logits and gradient are averages over its samples.
 * The caller owns (and must dispose) the three returned tensors.
 */
export function lossAndGrad(
  model: LogitsFn,
  x: tf.Tensor4D,
  lossFn: (logits: tf.Tensor2D) => tf.Tensor1D,
): LossAndGrad {
  ensureGradients();
  const samples = isEot(model) ? model.eot.samples : 1;
  let loss: tf.Tensor1D | undefined;
  let logits: tf.Tensor2D | undefined;
  const f = (xs: tf.Tensor): tf.Scalar => {
    const input = xs as tf.Tensor4D;
    let lossSum: tf.Tensor1D | undefined;
    let logitSum: tf.Tensor2D | undefined;
    for (let i = 0; i < samples; i++) {
      const z = isEot(model) ? model.eot.sample(input, i) : model(input);
      const l = lossFn(z);
      lossSum = lossSum ? (tf.add(lossSum, l) as tf.Tensor1D) : l;
      logitSum = logitSum ? (tf.add(logitSum, z) as tf.Tensor2D) : z;
    }
    const meanLoss = samples === 1 ? lossSum! : (tf.div(lossSum!, samples) as tf.Tensor1D);
    // Kept past the gradient's internal tidy; disposed by the caller.
    loss = tf.keep(tf.clone(meanLoss)) as tf.Tensor1D;
    logits = tf.keep(samples === 1 ? tf.clone(logitSum!) : tf.div(logitSum!, samples)) as tf.Tensor2D;
    return tf.sum(meanLoss);
  };
  const grad = tf.grad(f)(x) as tf.Tensor4D;
  return { grad, loss: loss!, logits: logits! };
}

/**
 * Per-example loss [N] at x without a gradient, averaged over the draws of an EOT model (its plain call
 * would average the logits instead): what a score-based attack (Square) compares when it accepts a step.
 */
export function averagedLoss(model: LogitsFn, x: tf.Tensor4D, lossFn: (logits: tf.Tensor2D) => tf.Tensor1D): tf.Tensor1D {
  if (!isEot(model)) return tf.tidy(() => lossFn(model(x)));
  const { samples, sample } = model.eot;
  return tf.tidy(() => {
    let sum = lossFn(sample(x, 0));
    for (let i = 1; i < samples; i++) sum = tf.add(sum, lossFn(sample(x, i)));
    return tf.div(sum, samples) as tf.Tensor1D;
  });
}

/** Per-example sign step for L∞, normalised step for L2 (grad / ||grad||_2). */
export function steepestAscentDirection(grad: tf.Tensor4D, norm: BallNorm): tf.Tensor4D {
  return tf.tidy(() => {
    if (norm === 'Linf') return tf.sign(grad);
    return tf.div(grad, perExample(tf.add(l2NormPerExample(grad), 1e-12) as tf.Tensor1D));
  });
}

/**
 * One projected steepest-ascent step: project(xAdv + stepSize * direction(grad), x, norm, eps).
 * L∞ on the torch engine is one fused kernel (sign step, eps-ball projection and [0, 1] clamp)
 * instead of eight; the math is the same on every backend.
 */
export function ascentStep(xAdv: tf.Tensor4D, grad: tf.Tensor4D, x: tf.Tensor4D, norm: BallNorm, eps: number,
  stepSize: number): tf.Tensor4D {
  if (norm === 'Linf') return linfStep(xAdv, grad, x, stepSize, eps, 0, 1);
  return tf.tidy(() => project(tf.add(xAdv, tf.mul(steepestAscentDirection(grad, norm), stepSize)), x, norm, eps));
}

/** Validate the common inputs of an attack, naming the attack in the error. */
export function checkInputs(attack: string, x: tf.Tensor4D, y: tf.Tensor1D, eps: number): void {
  if (x.rank !== 4) throw new Error(`${attack}: x must be a 4-D NHWC batch, got shape [${x.shape.join(', ')}]`);
  if (y.rank !== 1 || y.shape[0] !== x.shape[0]) {
    throw new Error(`${attack}: y must have shape [${x.shape[0]}], got [${y.shape.join(', ')}]`);
  }
  if (!(eps >= 0) || !Number.isFinite(eps)) throw new Error(`${attack}: eps must be a finite number >= 0, got ${eps}`);
}
