/**
 * PGD — Projected Gradient Descent (Madry et al., "Towards Deep Learning Models Resistant to Adversarial
 * Attacks", ICLR 2018), L∞ and L2, with the CE, CW-margin or DLR (Croce & Hein, ICML 2020) loss.
 *
 * Threat model: ||xAdv - x||_p <= eps (p = ∞ or 2) and xAdv in [0,1]. Untargeted.
 * JATP evaluation settings (spec §5.1, §5.2): PGD-40 = L∞, eps 8/255, 40 steps of 0.01, CE, uniform
 * random start, final iterate; PGD-DLR-40 = the same loop with the DLR loss and step 0.007.
 *
 * Options (defaults in PGD_DEFAULTS):
 * - norm: 'Linf' | 'L2'                   = 'Linf'
 * - eps: ball radius in [0,1] pixel units  = 8/255
 * - steps: iterations                      = 40
 * - stepSize: per-step size (L∞: of the sign step; L2: of the unit-L2 gradient step) = 0.01
 * - loss: 'ce' | 'cw' | 'dlr'              = 'ce'
 * - randomStart: start uniformly inside the ball (spec §5.1) = true
 * - keepBest: return, for examples fooled at some iterate, a fooling iterate (the last one found) instead
 *   of the final iterate; the paper's PGD returns the final iterate (spec §5.1)     = false
 *
 * Shapes: x [N,H,W,C] in [0,1], y [N] int labels; xAdv has x's shape and lies in the ball ∩ [0,1].
 *
 * Usage:
 *   const attack = pgd({ eps: 8 / 255, steps: 40, stepSize: 0.01 });
 *   const { xAdv, success } = attack.run(fullModel, x, y, 0);
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LogitsFn } from '../models/types.js';
import type { Attack, AttackResult } from './types.js';
import { type AttackModel, type SeedOrOptions, prepareRun } from './model.js';
import {
  type BallNorm,
  SeedStream,
  ascentStep,
  checkInputs,
  imageMask,
  lossAndGrad,
  lossPerExample,
  misclassified,
  randomStart,
  untargetedSuccess,
} from './ball-and-losses.js';
import { PAPER_EPS } from '../data/threat-model.js';

/** Options of PGD (defaults: PGD_DEFAULTS, PGD-DLR: PGD_DLR_DEFAULTS; see the file comment). Example: `pgd({ steps: 40, stepSize: 0.01 })`. */
export interface PgdOptions {
  readonly norm: BallNorm;
  readonly eps: number;
  readonly steps: number;
  readonly stepSize: number;
  readonly loss: 'ce' | 'cw' | 'dlr';
  readonly randomStart: boolean;
  readonly keepBest: boolean;
}

/** spec §5.1: 40-step L∞ PGD, step 0.01, eps 8/255, CE, random start, final iterate. */
export const PGD_DEFAULTS: PgdOptions = {
  norm: 'Linf',
  eps: PAPER_EPS,
  steps: 40,
  stepSize: 0.01,
  loss: 'ce',
  randomStart: true,
  keepBest: false,
};

/** spec §5.2: the same loop with the DLR loss and step 0.007 (random start: A16). */
export const PGD_DLR_DEFAULTS: PgdOptions = { ...PGD_DEFAULTS, stepSize: 0.007, loss: 'dlr' };

/** PGD (L∞ / L2; CE, CW or DLR loss) as an Attack; build it with `pgd(options)` or `pgdDlr(options)`. */
export class Pgd implements Attack {
  readonly name: string;
  readonly options: PgdOptions;

  constructor(options: Partial<PgdOptions> = {}) {
    this.options = { ...PGD_DEFAULTS, ...options };
    const o = this.options;
    if (!Number.isInteger(o.steps) || o.steps < 0) throw new Error(`pgd: steps must be an integer >= 0, got ${o.steps}`);
    if (!(o.stepSize > 0)) throw new Error(`pgd: stepSize must be > 0, got ${o.stepSize}`);
    this.name = `pgd-${o.loss}-${o.norm}-${o.steps}`;
  }

  run(attacked: AttackModel, x: tf.Tensor4D, y: tf.Tensor1D, options?: SeedOrOptions): AttackResult {
    const { model, seed } = prepareRun(attacked, options);
    const o = this.options;
    checkInputs(this.name, x, y, o.eps);
    const rng = new SeedStream(seed);
    const lossFn = (logits: tf.Tensor2D) => lossPerExample(o.loss, logits, y);

    let xAdv = o.randomStart ? randomStart(x, o.norm, o.eps, rng.nextSeed()) : tf.clone(x);
    // Only tracked with keepBest: the last fooling iterate per example, and whether one exists.
    let bestAdv: tf.Tensor4D | undefined = o.keepBest ? tf.clone(xAdv) : undefined;
    let everFooled: tf.Tensor1D | undefined = o.keepBest ? tf.zeros([x.shape[0]], 'bool') : undefined;

    for (let step = 0; step < o.steps; step++) {
      const { grad, loss, logits } = lossAndGrad(model, xAdv, lossFn);
      const next = ascentStep(xAdv, grad, x, o.norm, o.eps, o.stepSize);
      if (bestAdv && everFooled) {
        const fooled = misclassified(logits, y);
        const [b, e] = tf.tidy(() => [
          tf.where(imageMask(fooled, xAdv), xAdv, bestAdv!),
          tf.logicalOr(everFooled!, fooled) as tf.Tensor1D,
        ]);
        tf.dispose([bestAdv, everFooled, fooled]);
        bestAdv = b as tf.Tensor4D;
        everFooled = e as tf.Tensor1D;
      }
      tf.dispose([grad, loss, logits, xAdv]);
      xAdv = next;
    }

    if (bestAdv && everFooled) {
      // The final iterate wins when it fools; otherwise an earlier fooling iterate if there was one.
      const finalFooled = tf.tidy(() => misclassified(model(xAdv), y));
      const out = tf.tidy(() =>
        tf.where(imageMask(finalFooled, xAdv), xAdv, tf.where(imageMask(everFooled!, xAdv), bestAdv!, xAdv)),
      ) as tf.Tensor4D;
      tf.dispose([finalFooled, bestAdv, everFooled, xAdv]);
      xAdv = out;
    }
    return { xAdv, success: untargetedSuccess(model, xAdv, y) };
  }
}

/** Factory form, e.g. `pgd({ steps: 20 })`. */
export function pgd(options: Partial<PgdOptions> = {}): Pgd {
  return new Pgd(options);
}

/** PGD-DLR with the spec §5.2 defaults, e.g. `pgdDlr({ steps: 40 })`. */
export function pgdDlr(options: Partial<PgdOptions> = {}): Pgd {
  return new Pgd({ ...PGD_DLR_DEFAULTS, ...options });
}
