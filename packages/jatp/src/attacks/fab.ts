import * as tf from '@tensorflow/tfjs-core';
import type { LogitsFn } from '../models/types.js';
import { checkInputs, ensureGradients, linfNormPerExample, lossAndGrad, misclassified as misclassifiedLogits, projectLinf, SeedStream } from './ball-and-losses.js';
import { projectLinfBox } from './fab-projection.js';
import type { Attack, AttackResult } from './types.js';
import { type AttackModel, type SeedOrOptions, prepareRun } from './model.js';
import { attackRemaining } from './attack-remaining.js';
import { PAPER_EPS } from '../data/threat-model.js';

/**
 * FAB-T: targeted Fast Adaptive Boundary attack, L-inf version (Croce & Hein, "Minimally distorted
 * adversarial examples with a fast adaptive boundary attack", ICML 2020), as run by AutoAttack's
 * "standard" evaluation (spec §5.3).
 *
 * Threat model: L-inf ball of radius `eps` around x, intersected with [0, 1]. White-box (one
 * gradient of z_t - z_y per iteration). FAB looks for the *smallest* perturbation that changes the
 * prediction: each step linearises the decision boundary between the true class y and a target t,
 * projects both the current iterate and the clean point onto it (box-constrained, see
 * {@link projectLinfBox}), moves to a convex combination of the two projections (biased towards the
 * clean point by at most `alphaMax`, extrapolated by `eta`), and, once misclassified, records the
 * point and steps back towards x by the factor `beta`. An example counts as broken when its smallest
 * recorded misclassified point is within eps.
 * Targets: the classes with the 2nd, 3rd, ... largest clean logit, one run each, each run only on the
 * examples no earlier run has broken.
 *
 * Options (defaults in {@link FAB_DEFAULTS}):
 * - `eps` = 8/255: L-inf radius in [0, 1] pixel units.
 * - `nIter` = 100: iterations per target and restart.
 * - `nTargetClasses` = 9: number of targets (capped at numClasses - 1).
 * - `restarts` = 1: restarts per target; restart r > 0 starts from a random point at L-inf distance
 *   0.5 * min(best so far, eps) from x.
 * - `alphaMax` = 0.1, `eta` = 1.05, `beta` = 0.9: FAB's step constants (spec §5.3).
 * - `seed` = 0: default seed for the random restarts when `run` is not given one.
 * - `batchTargets` = true: with one restart, run several targets as one batch of (targets x points)
 *   rows, up to `maxBatchElements` (2^22) input elements per batch; fewer, larger kernel calls.
 *   The result equals running them one after another: FAB's steps are per example, a restart-free
 *   run draws no random numbers, and each point takes the first target, in order, that broke it.
 *
 * Shapes: x [N, H, W, C] in [0, 1], y [N] int32 labels. Returns xAdv [N, H, W, C] with
 * |xAdv - x| <= eps and xAdv in [0, 1] (the clean image where no adversarial point was found within
 * eps); `success[i]` is true iff xAdv[i] is misclassified (any class, as in AutoAttack).
 *
 * Usage:
 *   const { xAdv, success } = fabT({ eps: 8 / 255 }).run(fullModel, x, y);
 *   const robustAcc = success.filter((s) => !s).length / success.length;
 */
export interface FabOptions {
  readonly eps: number;
  readonly nIter: number;
  readonly nTargetClasses: number;
  readonly restarts: number;
  readonly alphaMax: number;
  readonly eta: number;
  readonly beta: number;
  readonly seed: number;
  readonly batchTargets?: boolean;
  readonly maxBatchElements?: number;
}

/** Defaults of FAB-T (spec §5.3): ε = 8/255, 100 iterations, 9 targets, 1 restart, alphaMax 0.1, eta 1.05, beta 0.9, seed 0. */
export const FAB_DEFAULTS: FabOptions = Object.freeze({
  eps: PAPER_EPS,
  nIter: 100,
  nTargetClasses: 9,
  restarts: 1,
  alphaMax: 0.1,
  eta: 1.05,
  beta: 0.9,
  seed: 0,
});

function checkOptions(o: FabOptions): void {
  if (!(o.eps >= 0)) throw new Error(`fabT: eps must be >= 0, got ${o.eps}`);
  for (const key of ['nIter', 'nTargetClasses', 'restarts'] as const) {
    if (!Number.isInteger(o[key]) || o[key] < 1) throw new Error(`fabT: ${key} must be an integer >= 1, got ${o[key]}`);
  }
  if (!(o.alphaMax >= 0 && o.alphaMax <= 1)) throw new Error(`fabT: alphaMax must be in [0, 1], got ${o.alphaMax}`);
  if (!(o.eta > 0)) throw new Error(`fabT: eta must be > 0, got ${o.eta}`);
  if (!(o.beta > 0 && o.beta <= 1)) throw new Error(`fabT: beta must be in (0, 1], got ${o.beta}`);
}

/** Per-example "prediction differs from y", bool [N]. */
function misclassified(model: LogitsFn, x: tf.Tensor4D, y: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => misclassifiedLogits(model(x), y));
}

/** What `fabTargetedRun` returns: the smallest adversarial points and their L∞ norms. */
export interface FabRunResult {
  /** Smallest misclassified point found per example (x itself where none was found). */
  readonly xBest: tf.Tensor4D;
  /** Its L-inf distance to x (Infinity where none was found). */
  readonly normBest: Float32Array;
}

/**
 * One FAB run towards fixed targets (all examples batched). Minimises the perturbation: the result
 * is not restricted to eps. Exported for tests and for callers that want minimal perturbations.
 * `startRadius[i]` > 0 starts example i at a random point at that L-inf distance (restarts).
 */
export function fabTargetedRun(
  model: LogitsFn,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  target: tf.Tensor1D,
  options: Partial<FabOptions> = {},
  startRadius?: Float32Array,
  rng: SeedStream = new SeedStream(0),
): FabRunResult {
  ensureGradients();
  const o: FabOptions = { ...FAB_DEFAULTS, ...options };
  const n = x.shape[0];
  const dim = x.size / n;
  const shape4 = x.shape;
  const numClasses = tf.tidy(() => model(tf.slice(x, 0, 1)).shape[1]);
  const onehotDiff = tf.tidy(() => tf.sub(tf.oneHot(tf.cast(target, 'int32'), numClasses), tf.oneHot(tf.cast(y, 'int32'), numClasses)));
  const x0 = tf.reshape(x, [n, dim]) as tf.Tensor2D;

  let x1: tf.Tensor2D;
  if (startRadius && startRadius.some((r) => r > 0)) {
    const noise = new Float32Array(n * dim);
    for (let i = 0; i < noise.length; i++) noise[i] = 2 * rng.nextFloat() - 1;
    x1 = tf.tidy(() => {
      const t = tf.tensor2d(noise, [n, dim]);
      const scaled = tf.mul(tf.div(t, tf.reshape(tf.maximum(tf.max(tf.abs(t), 1), 1e-12), [n, 1])), tf.tensor2d(startRadius, [n, 1]));
      return tf.clipByValue(tf.add(x0, scaled), 0, 1) as tf.Tensor2D;
    });
  } else {
    x1 = tf.clone(x0);
  }

  // df(z) = z_t - z_y, summed over the batch so that one backward pass gives every example's gradient.
  // (common.lossAndGrad: one forward/backward, and EOT averaging for randomised models).
  const dfAndGrad = (point: tf.Tensor2D): { df: tf.Tensor1D; dg: tf.Tensor2D } => {
    const { grad, loss, logits } = lossAndGrad(model, tf.reshape(point, shape4) as tf.Tensor4D, (z) =>
      tf.sum(tf.mul(z, onehotDiff), 1) as tf.Tensor1D,
    );
    logits.dispose();
    return { df: loss, dg: tf.reshape(grad, [n, dim]) as tf.Tensor2D };
  };

  let xBest = tf.clone(x0);
  let normBest = tf.fill([n], Infinity) as tf.Tensor1D;
  for (let it = 0; it < o.nIter; it++) {
    const next = tf.tidy(() => {
      const { df, dg } = dfAndGrad(x1);
      // Linearised boundary {z : <dg, z> = <dg, x1> - df}.
      const b = tf.sub(tf.sum(tf.mul(dg, x1), 1), df) as tf.Tensor1D;
      const d = projectLinfBox(tf.concat([x1, x0], 0) as tf.Tensor2D, tf.concat([dg, dg], 0) as tf.Tensor2D, tf.concat([b, b], 0) as tf.Tensor1D);
      const d1 = tf.slice(d, [0, 0], [n, dim]);
      const d2 = tf.slice(d, [n, 0], [n, dim]);
      const a1 = tf.maximum(linfNormPerExample(d1), 1e-8);
      const a2 = tf.maximum(linfNormPerExample(d2), 1e-8);
      const alpha = tf.reshape(tf.clipByValue(tf.div(a1, tf.add(a1, a2)), 0, o.alphaMax), [n, 1]);
      const moved = tf.clipByValue(
        tf.add(tf.mul(tf.add(x1, tf.mul(d1, o.eta)), tf.sub(1, alpha)), tf.mul(tf.add(x0, tf.mul(d2, o.eta)), alpha)),
        0,
        1,
      ) as tf.Tensor2D;
      const isAdv = misclassified(model, tf.reshape(moved, shape4) as tf.Tensor4D, y);
      const dist = linfNormPerExample(tf.sub(moved, x0));
      const improved = tf.logicalAnd(isAdv, tf.less(dist, normBest));
      const improved2 = tf.reshape(improved, [n, 1]);
      const newBest = tf.where(tf.tile(improved2, [1, dim]), moved, xBest) as tf.Tensor2D;
      const newNorm = tf.where(improved, dist, normBest) as tf.Tensor1D;
      // Once past the boundary, step back towards x to look for a smaller perturbation.
      const backed = tf.add(x0, tf.mul(tf.sub(moved, x0), o.beta));
      const newX1 = tf.where(tf.tile(tf.reshape(isAdv, [n, 1]), [1, dim]), backed, moved) as tf.Tensor2D;
      df.dispose(); // lossAndGrad keeps it past its gradient scope, so this tidy does not collect it
      return { newBest, newNorm, newX1 };
    });
    tf.dispose([x1, xBest, normBest]);
    x1 = next.newX1;
    xBest = next.newBest;
    normBest = next.newNorm;
  }
  const norms = normBest.dataSync() as Float32Array;
  const result = tf.reshape(xBest, shape4) as tf.Tensor4D;
  tf.dispose([x1, xBest, normBest, onehotDiff, x0]);
  return { xBest: result, normBest: norms };
}

/** Class indices sorted by decreasing clean logit, [N, K]. */
function classesByLogit(model: LogitsFn, x: tf.Tensor4D): { order: Int32Array; numClasses: number } {
  return tf.tidy(() => {
    const logits = model(x);
    const numClasses = logits.shape[1];
    const { indices } = tf.topk(logits, numClasses, true);
    return { order: indices.dataSync() as Int32Array, numClasses };
  });
}

/** FAB-T factory (spec §5.3). See {@link FabOptions} for the options and their defaults. */
export function fabT(options: Partial<FabOptions> = {}): Attack {
  const o: FabOptions = { ...FAB_DEFAULTS, ...options };
  checkOptions(o);
  return {
    name: 'fab-t',
    run(attacked: AttackModel, x: tf.Tensor4D, y: tf.Tensor1D, options?: SeedOrOptions): AttackResult {
      const { model, seed } = prepareRun(attacked, options, o.seed);
      checkInputs('fabT', x, y, o.eps);
      const n = x.shape[0];
      const rng = new SeedStream(seed);
      const { order, numClasses } = classesByLogit(model, x);
      const cleanWrong = misclassified(model, x, y);
      const broken = Array.from(cleanWrong.dataSync(), (v) => v !== 0);
      cleanWrong.dispose();
      const best = new Float32Array(n).fill(Infinity); // smallest perturbation found so far
      let xAdv: tf.Tensor4D = tf.clone(x);
      const nTargets = Math.min(o.nTargetClasses, numClasses - 1);
      const batched = o.batchTargets !== false && o.restarts === 1;
      const dim = x.size / Math.max(n, 1);
      let t = 1;
      while (batched && t <= nTargets) {
        const remaining = broken.reduce((c, b) => c + (b ? 0 : 1), 0);
        if (remaining === 0) break;
        const k = Math.min(nTargets - t + 1, Math.max(1, Math.floor((o.maxBatchElements ?? 2 ** 22) / (remaining * dim))));
        const first = t;
        t += k;
        xAdv = attackRemaining(x, y, xAdv, broken, (xSub, ySub, todo) => {
          const m = todo.length;
          const targets = new Int32Array(k * m);
          for (let a = 0; a < k; a++) todo.forEach((i, j) => { targets[a * m + j] = order[i * numClasses + first + a]!; });
          const tAll = tf.tensor1d(targets, 'int32');
          const xAll = (k === 1 ? tf.clone(xSub) : tf.concat(Array(k).fill(xSub), 0)) as tf.Tensor4D;
          const yAll = (k === 1 ? tf.clone(ySub) : tf.concat(Array(k).fill(ySub), 0)) as tf.Tensor1D;
          const { xBest, normBest } = fabTargetedRun(model, xAll, yAll, tAll, o, undefined, rng);
          tf.dispose([tAll, xAll, yAll]);
          const pick = new Int32Array(m);
          const fooledHere: boolean[] = [];
          todo.forEach((i, j) => {
            let a = 0;
            while (a < k && !(normBest[a * m + j]! <= o.eps)) {
              best[i] = Math.min(best[i]!, normBest[a * m + j]!);
              a++;
            }
            if (a < k) best[i] = Math.min(best[i]!, normBest[a * m + j]!);
            fooledHere.push(a < k);
            pick[j] = (a < k ? a : k - 1) * m + j;
          });
          const chosen = tf.tidy(() => tf.gather(xBest, tf.tensor1d(pick, 'int32'))) as tf.Tensor4D;
          xBest.dispose();
          // Guard the ball against float rounding in the norm bookkeeping.
          const inBall = projectLinf(chosen, xSub, o.eps);
          chosen.dispose();
          return { xAdv: inBall, fooled: fooledHere };
        }).xAdv;
      }
      for (; !batched && t <= nTargets; t++) {
        for (let r = 0; r < o.restarts; r++) {
          xAdv = attackRemaining(x, y, xAdv, broken, (xSub, ySub, todo) => {
            const startRadius = r === 0 ? undefined : Float32Array.from(todo, (i) => 0.5 * Math.min(best[i]!, o.eps));
            const tSub = tf.tensor1d(Int32Array.from(todo, (i) => order[i * numClasses + t]!), 'int32');
            const { xBest, normBest } = fabTargetedRun(model, xSub, ySub, tSub, o, startRadius, rng);
            tSub.dispose();
            todo.forEach((i, a) => {
              best[i] = Math.min(best[i]!, normBest[a]!);
            });
            // Guard the ball against float rounding in the norm bookkeeping.
            const inBall = projectLinf(xBest, xSub, o.eps);
            xBest.dispose();
            return { xAdv: inBall, fooled: Array.from(normBest, (d) => d <= o.eps) };
          }).xAdv;
        }
      }
      // Success is what the model says about the returned points (contract of AttackResult).
      const finalWrong = misclassified(model, xAdv, y);
      const success = Array.from(finalWrong.dataSync(), (v) => v !== 0);
      finalWrong.dispose();
      return { xAdv, success };
    },
  };
}
