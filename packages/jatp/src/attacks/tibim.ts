/**
 * TI-BIM — translation-invariant Basic Iterative Method (Dong et al., "Evading Defenses to Transferable
 * Adversarial Examples by Translation-Invariant Attacks", CVPR 2019; BIM: Kurakin et al. 2017).
 *
 * Threat model: L∞, ||xAdv - x||_∞ <= eps, xAdv in [0,1]. Untargeted, CE loss. Each step smooths the
 * input gradient with a normalised Gaussian kernel (per channel, depthwise 'same' convolution, zero
 * padding) before taking its sign; no momentum, no input diversity, no random start (spec §5.5, A18).
 *
 * Options (defaults in TIBIM_DEFAULTS, spec §5.5):
 * - eps: L∞ radius            = 8/255
 * - steps: iterations         = 40
 * - stepSize: sign-step size  = 0.007
 * - kernelSize: odd side of the Gaussian kernel = 15
 * - nsig: the kernel spans [-nsig, nsig] standard deviations = 3
 *
 * Shapes: x [N,H,W,C] in [0,1], y [N]; xAdv has x's shape.
 *
 * Usage:
 *   const attack = tiBim({ steps: 40 });
 *   const { xAdv, success } = attack.run(fullModel, x, y);
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LogitsFn } from '../models/types.js';
import type { Attack, AttackResult } from './types.js';
import { type AttackModel, type SeedOrOptions, prepareRun } from './model.js';
import { checkInputs, crossEntropyPerExample, lossAndGrad, projectLinf, untargetedSuccess } from './ball-and-losses.js';
import { PAPER_EPS } from '../data/threat-model.js';

/** Options of TI-BIM (defaults: TIBIM_DEFAULTS: ε = 8/255, 40 steps of 0.007, 15x15 kernel, nsig 3). */
export interface TiBimOptions {
  readonly eps: number;
  readonly steps: number;
  readonly stepSize: number;
  readonly kernelSize: number;
  readonly nsig: number;
}

/** Defaults of TI-BIM (spec §5.5): ε = 8/255, 40 steps of 0.007, 15x15 Gaussian kernel over ±3σ. */
export const TIBIM_DEFAULTS: TiBimOptions = { eps: PAPER_EPS, steps: 40, stepSize: 0.007, kernelSize: 15, nsig: 3 };

/**
 * The TI kernel as a row-major Float64Array of kernelSize² values: the outer product of the standard
 * normal pdf sampled at linspace(-nsig, nsig, kernelSize), normalised to sum 1 (spec §5.5).
 */
export function gaussianKernel(kernelSize: number, nsig: number): Float64Array {
  if (!Number.isInteger(kernelSize) || kernelSize < 1 || kernelSize % 2 === 0) {
    throw new Error(`tibim: kernelSize must be an odd integer >= 1, got ${kernelSize}`);
  }
  const pdf = new Float64Array(kernelSize);
  for (let i = 0; i < kernelSize; i++) {
    const t = kernelSize === 1 ? 0 : -nsig + (2 * nsig * i) / (kernelSize - 1);
    pdf[i] = Math.exp(-0.5 * t * t); // the 1/sqrt(2π) factor cancels in the normalisation
  }
  const kernel = new Float64Array(kernelSize * kernelSize);
  let total = 0;
  for (let i = 0; i < kernelSize; i++) {
    for (let j = 0; j < kernelSize; j++) {
      kernel[i * kernelSize + j] = pdf[i]! * pdf[j]!;
      total += kernel[i * kernelSize + j]!;
    }
  }
  for (let i = 0; i < kernel.length; i++) kernel[i]! /= total;
  return kernel;
}

/** TI-BIM as an Attack; build it with `tiBim(options)`. */
export class TiBim implements Attack {
  readonly name: string;
  readonly options: TiBimOptions;

  constructor(options: Partial<TiBimOptions> = {}) {
    this.options = { ...TIBIM_DEFAULTS, ...options };
    const o = this.options;
    if (!Number.isInteger(o.steps) || o.steps < 0) throw new Error(`tibim: steps must be an integer >= 0, got ${o.steps}`);
    gaussianKernel(o.kernelSize, o.nsig); // validates
    this.name = `tibim-${o.steps}`;
  }

  /** Deterministic (no random start): the seed is accepted for the common interface and unused. */
  run(attacked: AttackModel, x: tf.Tensor4D, y: tf.Tensor1D, options?: SeedOrOptions): AttackResult {
    const { model } = prepareRun(attacked, options);
    const o = this.options;
    checkInputs(this.name, x, y, o.eps);
    const channels = x.shape[3];
    const k = gaussianKernel(o.kernelSize, o.nsig);
    // depthwiseConv2d filter [kh, kw, C, 1]: the same kernel for every channel.
    const filter = tf.tidy(() =>
      tf.tile(tf.tensor4d(Float32Array.from(k), [o.kernelSize, o.kernelSize, 1, 1]), [1, 1, channels, 1]),
    ) as tf.Tensor4D;
    const lossFn = (logits: tf.Tensor2D) => crossEntropyPerExample(logits, y);
    let xAdv = tf.clone(x);
    for (let step = 0; step < o.steps; step++) {
      const { grad, loss, logits } = lossAndGrad(model, xAdv, lossFn);
      const next = tf.tidy(() => {
        const smoothed = tf.depthwiseConv2d(grad, filter, 1, 'same');
        return projectLinf(tf.add(xAdv, tf.mul(tf.sign(smoothed), o.stepSize)), x, o.eps);
      });
      tf.dispose([grad, loss, logits, xAdv]);
      xAdv = next;
    }
    filter.dispose();
    return { xAdv, success: untargetedSuccess(model, xAdv, y) };
  }
}

/** TI-BIM factory. Example: `tiBim({ steps: 40 }).run(model, x, y)`. */
export function tiBim(options: Partial<TiBimOptions> = {}): TiBim {
  return new TiBim(options);
}
