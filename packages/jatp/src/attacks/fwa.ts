import * as tf from '@tensorflow/tfjs-core';
import type { LogitsFn } from '../models/types.js';
import { checkInputs, clip01, crossEntropyPerExample, isEot, lossAndGrad, misclassified } from './ball-and-losses.js';
import {
  dualProject,
  entropicLmo,
  identityPlan,
  pullBack,
  pushForward,
  scalePerExample,
  transportGeometry,
  type BisectionOptions,
} from './fwa-transport.js';
import type { Attack, AttackResult } from './types.js';
import { type AttackModel, type SeedOrOptions, prepareRun } from './model.js';
import { PAPER_EPS } from '../data/threat-model.js';

/**
 * FWA: Wasserstein adversarial attack (Wu, Wang, Yu, "Stronger and faster Wasserstein adversarial
 * examples via dual projection", ICML 2020), the JATP paper's "20-step FWA with step size 0.01"
 * (spec §5.4, ambiguity A17).
 *
 * Threat model: x' is obtained from x by moving pixel mass, per channel, between pixels at most
 * r = (kernel - 1) / 2 rows/columns apart, with a transport plan Pi >= 0 whose rows sum to x
 * (every unit of mass goes somewhere) and whose cost sum(distance * mass) is at most eps * S, S the
 * total mass of the image. The attack ascends the cross-entropy of the model in the plan:
 * - method 'pgd' (default; the author's evaluation class): Pi <- DualProject(Pi + lr * G / max|G|),
 *   the exact Euclidean projection onto the feasible plans, its budget multiplier found by bisection;
 * - method 'fw': Frank-Wolfe, Pi <- Pi + 2/(t+2) * (LMO(G) - Pi) with an entropy-smoothed linear
 *   minimisation oracle (temperature `gamma`), again with a bisected budget multiplier.
 * Every iterate is a feasible plan, so the invariants of spec §5c hold at every step.
 *
 * Range: x'(Pi) preserves the total mass of x exactly, but a pixel may receive more than 1. The model
 * is attacked through clip01(x') (spec §5.4) and the returned image is clip01(x'), so it lies in [0, 1]
 * as every attack output must; clipping only removes mass above 1, so the returned image's mass is
 * <= that of x, with equality iff no pixel exceeded 1. (The reference's optional capacity-constrained
 * post-processing, off in the author's setting, is not implemented.) {@link fwaRun} also returns the
 * unclipped x' and the plan for callers that need the exact transport.
 *
 * Options (defaults in {@link FWA_DEFAULTS}):
 * - `eps` = 8/255: budget as a fraction of the image's total mass (eps_W, spec A17).
 * - `steps` = 20: iterations.
 * - `lr` = 0.01: step size of the 'pgd' method on the max-normalised gradient.
 * - `kernel` = 5: side of the local transport window (odd).
 * - `method` = 'pgd': 'pgd' (dual projection) or 'fw' (Frank-Wolfe).
 * - `gamma` = 1e-3: entropic temperature of the 'fw' oracle.
 * - `dualMaxIter` = 15, `dualTolerance` = 1e-4: bisection on the budget multiplier.
 * - `seed` = 0: unused (the attack is deterministic); accepted for the common interface.
 * An example counts as broken as soon as one iterate is misclassified; that iterate is returned.
 *
 * Shapes: x [N, H, W, C] in [0, 1], y [N] int32 labels. Returns xAdv [N, H, W, C] in [0, 1];
 * `success[i]` is true iff xAdv[i] is misclassified.
 *
 * Usage:
 *   const { xAdv, success } = fwa({ eps: 8 / 255, steps: 20 }).run(fullModel, x, y);
 *   const robustAcc = success.filter((s) => !s).length / success.length;
 */
export interface FwaOptions {
  readonly eps: number;
  readonly steps: number;
  readonly lr: number;
  readonly kernel: number;
  readonly method: 'pgd' | 'fw';
  readonly gamma: number;
  readonly dualMaxIter: number;
  readonly dualTolerance: number;
  readonly seed: number;
}

/** Defaults of FWA (spec §5.4, A17): ε = 8/255 of the mass, 20 steps, lr 0.01, 5x5 kernel, dual projection. */
export const FWA_DEFAULTS: FwaOptions = Object.freeze({
  eps: PAPER_EPS,
  steps: 20,
  lr: 0.01,
  kernel: 5,
  method: 'pgd' as const,
  gamma: 1e-3,
  dualMaxIter: 15,
  dualTolerance: 1e-4,
  seed: 0,
});

function checkOptions(o: FwaOptions): void {
  if (!(o.eps >= 0) || !Number.isFinite(o.eps)) throw new Error(`fwa: eps must be a finite number >= 0, got ${o.eps}`);
  if (!Number.isInteger(o.steps) || o.steps < 0) throw new Error(`fwa: steps must be an integer >= 0, got ${o.steps}`);
  if (!(o.lr > 0)) throw new Error(`fwa: lr must be > 0, got ${o.lr}`);
  if (!Number.isInteger(o.kernel) || o.kernel < 1 || o.kernel % 2 === 0) throw new Error(`fwa: kernel must be an odd integer >= 1, got ${o.kernel}`);
  if (o.method !== 'pgd' && o.method !== 'fw') throw new Error(`fwa: method must be 'pgd' or 'fw', got '${String(o.method)}'`);
  if (!(o.gamma > 0)) throw new Error(`fwa: gamma must be > 0, got ${o.gamma}`);
  if (!Number.isInteger(o.dualMaxIter) || o.dualMaxIter < 1) throw new Error(`fwa: dualMaxIter must be an integer >= 1, got ${o.dualMaxIter}`);
}

/** What `fwaRun` returns: the clipped and unclipped transported images, the plans and success. */
export interface FwaRunResult {
  /** clip01 of the transported image, [N, H, W, C]. */
  readonly xAdv: tf.Tensor4D;
  /** The transported image x'(Pi) before clipping (mass-preserving), [N, H, W, C]. */
  readonly transported: tf.Tensor4D;
  /** The plan behind each returned image, [N, H, W, C, kernel^2]. */
  readonly plan: tf.Tensor;
  /** xAdv misclassified. */
  readonly success: boolean[];
}

/** Runs FWA and returns the plans too (the caller owns and disposes the three tensors). */
export function fwaRun(model: LogitsFn, x: tf.Tensor4D, y: tf.Tensor1D, options: Partial<FwaOptions> = {}): FwaRunResult {
  const o: FwaOptions = { ...FWA_DEFAULTS, ...options };
  checkOptions(o);
  checkInputs('fwa', x, y, o.eps);
  const n = x.shape[0];
  const geo = transportGeometry(x.shape, o.kernel);
  const bisection: BisectionOptions = { maxIter: o.dualMaxIter, tolerance: o.dualTolerance };
  const budget = tf.tidy(() => tf.mul(tf.sum(tf.reshape(x, [n, -1]), 1), o.eps) as tf.Tensor1D);
  // The model sees clip01(x'); a randomised (EOT) model keeps its sampler behind the same clip.
  const clipped: LogitsFn = (z) => model(clip01(z));
  const attacked: LogitsFn = isEot(model)
    ? Object.assign(clipped, { eot: { samples: model.eot.samples, sample: (z: tf.Tensor4D, i: number) => model.eot.sample(clip01(z), i) } })
    : clipped;

  let plan = identityPlan(x, geo);
  // Returned plan per example: the first misclassified iterate, else the last one.
  let bestPlan = tf.clone(plan);
  let fooled = tf.zeros([n], 'bool') as tf.Tensor1D;
  const record = (current: tf.Tensor, wrong: tf.Tensor1D): void => {
    const next = tf.tidy(() => {
      // Keep a plan once its example is fooled; otherwise follow the iterates.
      const keep = tf.reshape(fooled, [n, 1, 1, 1, 1]);
      const chosen = tf.where(tf.broadcastTo(keep, current.shape), bestPlan, current);
      return { chosen, fooledNow: tf.logicalOr(fooled, wrong) as tf.Tensor1D };
    });
    tf.dispose([bestPlan, fooled]);
    bestPlan = next.chosen;
    fooled = next.fooledNow;
  };

  for (let t = 0; t < o.steps; t++) {
    const { updated, wrong } = tf.tidy(() => {
      const xPrime = pushForward(plan, geo);
      const { grad, loss, logits } = lossAndGrad(attacked, xPrime, (z) => crossEntropyPerExample(z, y));
      tf.dispose(loss); // lossAndGrad's outputs are kept past its own scope; release them here
      const wrongHere = misclassified(logits, y);
      tf.dispose(logits);
      // Normalise per example so that lr means "largest entry moves by lr" (spec §5.4).
      const g = pullBack(grad, geo);
      tf.dispose(grad);
      const scale = tf.div(1, tf.add(tf.max(tf.abs(tf.reshape(g, [n, -1])), 1), 1e-30)) as tf.Tensor1D;
      const gNorm = scalePerExample(scale, g);
      let next: tf.Tensor;
      if (o.method === 'pgd') {
        next = dualProject(tf.add(plan, tf.mul(gNorm, o.lr)), x, geo, budget, bisection);
      } else {
        const stepSize = 2 / (t + 2);
        next = tf.add(tf.mul(plan, 1 - stepSize), tf.mul(entropicLmo(gNorm, x, geo, budget, o.gamma, bisection), stepSize));
      }
      return { updated: next, wrong: wrongHere };
    });
    record(plan, wrong);
    tf.dispose([plan, wrong]);
    plan = updated;
  }
  // The last iterate has not been evaluated yet.
  const wrongLast = tf.tidy(() => misclassified(attacked(pushForward(plan, geo)), y));
  record(plan, wrongLast);
  wrongLast.dispose();

  const transported = pushForward(bestPlan, geo);
  const xAdv = clip01(transported);
  const success = Array.from(fooled.dataSync(), (v) => v !== 0);
  tf.dispose([plan, fooled, budget]);
  geo.dispose();
  return { xAdv, transported, plan: bestPlan, success };
}

/** FWA factory (spec §5.4). See {@link FwaOptions} for the options and their defaults. */
export function fwa(options: Partial<FwaOptions> = {}): Attack {
  const o: FwaOptions = { ...FWA_DEFAULTS, ...options };
  checkOptions(o);
  return {
    name: `fwa${o.steps}`,
    /** Deterministic: the seed is accepted for the common interface and unused. */
    run(attacked: AttackModel, x: tf.Tensor4D, y: tf.Tensor1D, options?: SeedOrOptions): AttackResult {
      const { model } = prepareRun(attacked, options, o.seed);
      const { xAdv, transported, plan, success } = fwaRun(model, x, y, o);
      tf.dispose([transported, plan]);
      return { xAdv, success };
    },
  };
}
