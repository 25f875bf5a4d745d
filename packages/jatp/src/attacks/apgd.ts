/**
 * APGD — Auto-PGD (Croce & Hein, "Reliable evaluation of adversarial robustness with an ensemble of
 * diverse parameter-free attacks", ICML 2020): APGD-CE (untargeted cross-entropy) and APGD-T (targeted
 * DLR against the classes with the 2nd..(nTargetClasses+1)-th largest clean logit), as in AutoAttack's
 * standard version (spec §5.3).
 *
 * Threat model: ||xAdv - x||_p <= eps (p = ∞ or 2), xAdv in [0,1]. Success = misclassified (also for
 * APGD-T, whose target is only a means).
 *
 * Algorithm (spec §5.3), per example and batched: random start at L∞ distance exactly eps (L2: norm eps)
 * before clipping; step size 2·eps; momentum step x_{k+1} = P(x_k + a(z - x_k) + (1-a)(x_k - x_{k-1})),
 * z = P(x_k + eta·sign(g)), a = 1 on the first step else 0.75; at checkpoints (apgdCheckpoints) the step
 * size is halved and the iterate restarts from the best-loss point when (1) the loss increased in at most
 * rho·k of the last k steps or (2) the step was not halved at the previous checkpoint and the best loss has
 * not grown since. The output is the last fooling iterate (x_best_adv) for fooled points, else the clean x.
 * Each restart / target runs only on points not yet fooled.
 *
 * Options (defaults in APGD_DEFAULTS / APGD_T_DEFAULTS):
 * - norm: 'Linf' | 'L2'                         = 'Linf'
 * - eps: ball radius                             = 8/255
 * - nIter: iterations per run                    = 100
 * - nRestarts: runs per target (random restarts) = 1
 * - loss: 'ce' | 'dlr' | 'dlr-targeted'          = 'ce' (APGD-T: 'dlr-targeted')
 * - rho: oscillation threshold of condition (1)  = 0.75
 * - nTargetClasses: targets tried by APGD-T      = 9 (capped at numClasses - 1)
 * - onIteration: hook receiving each iteration's step sizes and losses (reads back; for tests) = undefined
 * - batchTargets: run the (target, restart) runs together as one batch, up to maxBatchElements
 *   input elements per batch (more runs per batch means fewer, larger kernel calls) = true
 * - maxBatchElements: input elements (rows x H x W x C) a batched group may hold = 2^22; a group
 *   always holds at least one run
 *
 * Runs in one batch give the same result as one after another: every per-example computation is
 * independent of the other rows, each run's random start is drawn for all N input points from the
 * run's own seed and then gathered (so a point's start does not depend on which other points are
 * still attacked), and each point takes the first run, in (target, restart) order, that fooled it.
 * (A lone run — APGD-CE with one restart — draws for the attacked points only, as earlier versions
 * did for every run, so its results did not change; APGD-T's and multi-restart draws did.)
 * A batch only costs the work of the runs a sequential pass would have skipped for points that an
 * earlier run of the same batch fooled.
 *
 * Deviation (documented): the reference compares the first step's loss with an uninitialised zero entry
 * when counting loss increases; here it is compared with the loss at the random start.
 *
 * Shapes: x [N,H,W,C] in [0,1], y [N]; xAdv has x's shape.
 *
 * Usage:
 *   const { xAdv, success } = apgdCe().run(fullModel, x, y, 0);
 *   const targeted = apgdT({ nTargetClasses: 9 }).run(fullModel, x, y, 0);
 */
import * as tf from '@tensorflow/tfjs-core';
import { apgdLinfStep, apgdTrack } from 'tfjs-backend-torch/fused';
import type { LogitsFn } from '../models/types.js';
import type { Attack, AttackResult } from './types.js';
import { type AttackModel, type SeedOrOptions, prepareRun } from './model.js';
import {
  type BallNorm,
  SeedStream,
  checkInputs,
  clip01,
  imageMask,
  l2NormPerExample,
  linfNormPerExample,
  lossAndGrad,
  lossPerExample,
  perExample,
  project,
  steepestAscentDirection,
} from './ball-and-losses.js';
import { attackRemaining } from './attack-remaining.js';
import { PAPER_EPS } from '../data/threat-model.js';

/** Options of APGD (defaults: APGD_DEFAULTS, APGD-T: APGD_T_DEFAULTS; see the file comment). Example: `apgdCe({ eps: 8 / 255, nIter: 100 })`. */
export interface ApgdOptions {
  readonly norm: BallNorm;
  readonly eps: number;
  readonly nIter: number;
  readonly nRestarts: number;
  readonly loss: 'ce' | 'dlr' | 'dlr-targeted';
  readonly rho: number;
  readonly nTargetClasses: number;
  /** Debug/test hook called after every iteration with the per-example step size and loss. */
  readonly onIteration?: (info: { iteration: number; stepSize: number[]; loss: number[] }) => void;
  /** Run several (target, restart) runs as one batch (same results as one after another). */
  readonly batchTargets?: boolean;
  /** Input elements a batch of runs may hold (at least one run per batch). */
  readonly maxBatchElements?: number;
}

/** AutoAttack standard APGD-CE (spec §5.3): 100 iterations, 1 restart, rho 0.75. */
export const APGD_DEFAULTS: ApgdOptions = {
  norm: 'Linf',
  eps: PAPER_EPS,
  nIter: 100,
  nRestarts: 1,
  loss: 'ce',
  rho: 0.75,
  nTargetClasses: 9,
};

/** AutoAttack standard APGD-T (spec §5.3): targeted DLR, 9 targets x 1 restart x 100 iterations. */
export const APGD_T_DEFAULTS: ApgdOptions = { ...APGD_DEFAULTS, loss: 'dlr-targeted' };

/**
 * 0-based iterations at which APGD checks its step size, for nIter iterations: the first after
 * max(floor(0.22 nIter), 1) iterations, then intervals shrinking by floor(0.03 nIter) down to
 * floor(0.06 nIter) (at least 1). nIter = 100 -> 21, 40, 56, 69, 79, 86, 92, 98 (spec §5.3, §5c).
 */
export function apgdCheckpoints(nIter: number): number[] {
  const decrease = Math.max(Math.floor(0.03 * nIter), 1);
  const minInterval = Math.max(Math.floor(0.06 * nIter), 1);
  let interval = Math.max(Math.floor(0.22 * nIter), 1);
  const checks: number[] = [];
  let at = interval - 1;
  while (at < nIter) {
    checks.push(at);
    interval = Math.max(interval - decrease, minInterval);
    at += interval;
  }
  return checks;
}

interface SingleRunResult {
  /** Fooling iterate for fooled points, otherwise the last iterate (replaced by x by the caller). */
  xBestAdv: tf.Tensor4D;
  /** Per-example: still correctly classified at every iterate. */
  robust: tf.Tensor1D;
}

/** APGD-CE / APGD-T / APGD-DLR as one Attack; build it with `apgdCe(options)` or `apgdT(options)`. Example: `new Apgd({ loss: 'dlr' }).run(model, x, y, 0)`. */
export class Apgd implements Attack {
  readonly name: string;
  readonly options: ApgdOptions;

  constructor(options: Partial<ApgdOptions> = {}) {
    this.options = { ...APGD_DEFAULTS, ...options };
    const o = this.options;
    if (!Number.isInteger(o.nIter) || o.nIter < 1) throw new Error(`apgd: nIter must be an integer >= 1, got ${o.nIter}`);
    if (!Number.isInteger(o.nRestarts) || o.nRestarts < 1) throw new Error(`apgd: nRestarts must be an integer >= 1, got ${o.nRestarts}`);
    if (!Number.isInteger(o.nTargetClasses) || o.nTargetClasses < 1) {
      throw new Error(`apgd: nTargetClasses must be an integer >= 1, got ${o.nTargetClasses}`);
    }
    this.name = o.loss === 'dlr-targeted' ? 'apgd-t' : `apgd-${o.loss}`;
  }

  run(attacked: AttackModel, x: tf.Tensor4D, y: tf.Tensor1D, options?: SeedOrOptions): AttackResult {
    const { model, seed } = prepareRun(attacked, options);
    const o = this.options;
    checkInputs(this.name, x, y, o.eps);
    const rng = new SeedStream(seed);
    const n = x.shape[0];
    const numClasses = tf.tidy(() => model(tf.slice(x, [0, 0, 0, 0], [Math.min(1, n), -1, -1, -1])).shape[1]);
    const targeted = o.loss === 'dlr-targeted';
    // Positions (1-based, in descending clean-logit order) of the target classes: 2nd..(T+1)-th.
    const targetRanks = targeted
      ? Array.from({ length: Math.min(o.nTargetClasses, numClasses - 1) }, (_, i) => i + 2)
      : [0];

    // Points already misclassified keep x (they count as fooled without an attack).
    const cleanMask = tf.tidy(() => tf.notEqual(tf.argMax(model(x), 1), tf.cast(y, 'int32')));
    const fooled = Array.from(cleanMask.dataSync(), (v) => v !== 0);
    cleanMask.dispose();
    let xAdv = tf.clone(x);

    // One seed per (target, restart), drawn whether or not it runs.
    const runs = targetRanks.flatMap((rank) => Array.from({ length: o.nRestarts }, () => ({ rank, seed: rng.nextSeed() })));
    const dim = x.size / Math.max(n, 1);
    const budget = o.maxBatchElements ?? 2 ** 22;
    let next = 0;
    while (next < runs.length) {
      const remaining = fooled.reduce((c, f) => c + (f ? 0 : 1), 0);
      if (remaining === 0) break;
      const perGroup = o.batchTargets === false ? 1 : Math.max(1, Math.floor(budget / (remaining * dim)));
      const group = runs.slice(next, next + perGroup);
      next += group.length;
      xAdv = attackRemaining(x, y, xAdv, fooled, (xs, ys, todo) => this.runGroup(model, x.shape, xs, ys, todo, group, targeted, runs.length === 1)).xAdv;
    }
    return { xAdv, success: fooled };
  }

  /**
   * Runs `group` (consecutive (target, restart) runs) on the m points `todo` as one batch of
   * group.length * m rows; each point takes the first run that fooled it.
   */
  private runGroup(
    model: LogitsFn,
    fullShape: readonly number[],
    xs: tf.Tensor4D,
    ys: tf.Tensor1D,
    todo: readonly number[],
    group: readonly { rank: number; seed: number }[],
    targeted: boolean,
    loneRun: boolean,
  ): { xAdv: tf.Tensor4D; fooled: boolean[] } {
    const m = xs.shape[0];
    const k = group.length;
    const rows = Int32Array.from(todo);
    const { xb, yb, target, start } = tf.tidy(() => {
      const idx = tf.tensor1d(rows, 'int32');
      // Each run's start draws for every input point of `run`, then keeps the attacked ones.
      // A lone run (APGD-CE with one restart) draws for the attacked points only, as before
      // batching existed, so its results are unchanged; runs that may share a batch draw for all.
      const starts = group.map((r) => (loneRun
        ? tf.randomUniform(xs.shape, 0, 1, 'float32', r.seed)
        : tf.gather(tf.randomUniform(fullShape as [number, number, number, number], 0, 1, 'float32', r.seed), idx)));
      const maxRank = Math.max(...group.map((r) => r.rank));
      const order = targeted ? tf.topk(model(xs), maxRank).indices : undefined;
      const targets = order ? group.map((r) => tf.reshape(tf.slice(order, [0, r.rank - 1], [-1, 1]), [-1])) : [];
      return {
        xb: (k === 1 ? tf.clone(xs) : tf.concat(Array(k).fill(xs), 0)) as tf.Tensor4D,
        yb: (k === 1 ? tf.clone(ys) : tf.concat(Array(k).fill(ys), 0)) as tf.Tensor1D,
        target: targeted ? (tf.concat(targets, 0) as tf.Tensor1D) : undefined,
        start: tf.concat(starts, 0) as tf.Tensor4D,
      };
    });
    const { xBestAdv, robust } = this.singleRun(model, xb, yb, target, start);
    const robustFlags = robust.dataSync();
    tf.dispose([xb, yb, start, robust, ...(target ? [target] : [])]);
    const pick = new Int32Array(m);
    const fooledHere: boolean[] = [];
    for (let j = 0; j < m; j++) {
      let run = 0;
      while (run < k && robustFlags[run * m + j] !== 0) run++;
      fooledHere.push(run < k);
      pick[j] = (run < k ? run : k - 1) * m + j;
    }
    const xAdv = k === 1 ? xBestAdv : (tf.tidy(() => tf.gather(xBestAdv, tf.tensor1d(pick, 'int32'))) as tf.Tensor4D);
    if (k > 1) xBestAdv.dispose();
    return { xAdv, fooled: fooledHere };
  }

  /** One APGD run on a batch (all points attacked), spec §5.3. */
  private singleRun(
    model: LogitsFn,
    x: tf.Tensor4D,
    y: tf.Tensor1D,
    target: tf.Tensor1D | undefined,
    uniformStart: tf.Tensor4D,
  ): SingleRunResult {
    const o = this.options;
    const n = x.shape[0];
    const lossFn = (logits: tf.Tensor2D) => lossPerExample(o.loss, logits, y, target);
    const checkpoints = apgdCheckpoints(o.nIter);

    // Random start on the sphere of the norm ball (spec §5.3), then clipped to [0,1].
    let xCur = tf.tidy(() => {
      const t = tf.sub(tf.mul(uniformStart, 2), 1) as tf.Tensor4D;
      const size = o.norm === 'Linf' ? linfNormPerExample(t) : l2NormPerExample(t);
      return clip01(tf.add(x, tf.mul(tf.div(t, perExample(tf.add(size, 1e-12) as tf.Tensor1D)), o.eps))) as tf.Tensor4D;
    });
    const first = lossAndGrad(model, xCur, lossFn);
    let grad = first.grad;
    let lossPrev = first.loss;
    let robust = tf.tidy(() => tf.equal(tf.argMax(first.logits, 1), tf.cast(y, 'int32'))) as tf.Tensor1D;
    first.logits.dispose();
    let xBestAdv = tf.clone(xCur);
    let xBest = tf.clone(xCur);
    let gradBest = tf.clone(grad);
    let lossBest = tf.clone(lossPrev);
    let lossBestLastCheck = tf.clone(lossPrev);
    let reducedLastCheck = tf.zeros([n], 'bool') as tf.Tensor1D;
    let increases = tf.zeros([n]) as tf.Tensor1D;
    let stepSize = tf.fill([n, 1, 1, 1], 2 * o.eps) as tf.Tensor4D; // spec §5.3: eta = 2 eps
    let xPrev = tf.clone(xCur);
    let lastCheck = -1;

    const swap = <T extends tf.Tensor>(old: T, next: T): T => {
      old.dispose();
      return next;
    };

    for (let i = 0; i < o.nIter; i++) {
      const a = i === 0 ? 1 : 0.75;
      // L∞ on the torch engine: one fused kernel (apgdLinfStep), the same floats as below.
      const xNext = o.norm === 'Linf' ? apgdLinfStep(xCur, xPrev, grad, x, stepSize, a, o.eps, 0, 1) : tf.tidy(() => {
        const momentum = tf.sub(xCur, xPrev);
        const z = project(tf.add(xCur, tf.mul(stepSize, steepestAscentDirection(grad, o.norm))), x, o.norm, o.eps);
        return project(tf.add(tf.add(xCur, tf.mul(tf.sub(z, xCur), a)), tf.mul(momentum, 1 - a)), x, o.norm, o.eps);
      });
      xPrev.dispose();
      xPrev = xCur;
      xCur = xNext;
      grad.dispose();
      const step = lossAndGrad(model, xCur, lossFn);
      grad = step.grad;
      const loss = step.loss;

      // The bookkeeping (last fooling iterate, robust flags, loss increases, best-loss iterate):
      // one fused kernel on torch, the same selections from tfjs ops elsewhere.
      const tracked = apgdTrack(xCur, grad, loss, lossPrev, step.logits, y, { xBestAdv, robust, increases, xBest, gradBest, lossBest });
      step.logits.dispose();
      tf.dispose([xBestAdv, robust, increases, xBest, gradBest, lossBest, lossPrev]);
      ({ xBestAdv, robust, increases, xBest, gradBest, lossBest } = tracked);
      lossPrev = loss;

      if (checkpoints.includes(i)) {
        const interval = i - lastCheck;
        lastCheck = i;
        const reduce = tf.tidy(() => {
          const oscillating = tf.lessEqual(increases, o.rho * interval); // condition (1)
          const stalled = tf.logicalAnd(tf.logicalNot(reducedLastCheck), tf.greaterEqual(lossBestLastCheck, lossBest)); // (2)
          return tf.logicalOr(oscillating, stalled) as tf.Tensor1D;
        });
        reducedLastCheck = swap(reducedLastCheck, reduce);
        lossBestLastCheck = swap(lossBestLastCheck, tf.clone(lossBest));
        stepSize = swap(stepSize, tf.tidy(() => tf.where(imageMask(reduce, stepSize), tf.div(stepSize, 2), stepSize)) as tf.Tensor4D);
        xCur = swap(xCur, tf.tidy(() => tf.where(imageMask(reduce, xCur), xBest, xCur)) as tf.Tensor4D);
        grad = swap(grad, tf.tidy(() => tf.where(imageMask(reduce, grad), gradBest, grad)) as tf.Tensor4D);
        increases = swap(increases, tf.zeros([n]) as tf.Tensor1D);
      }
      if (o.onIteration) {
        const sizes = Array.from(stepSize.dataSync());
        o.onIteration({ iteration: i, stepSize: sizes, loss: Array.from(lossPrev.dataSync()) });
      }
    }
    tf.dispose([xCur, xPrev, grad, lossPrev, xBest, gradBest, lossBest, lossBestLastCheck, reducedLastCheck, increases, stepSize]);
    return { xBestAdv, robust };
  }
}

/** APGD-CE, AutoAttack standard settings by default. */
export function apgdCe(options: Partial<ApgdOptions> = {}): Apgd {
  return new Apgd({ ...APGD_DEFAULTS, ...options, loss: options.loss ?? 'ce' });
}

/** APGD-T (targeted DLR, 9 targets), AutoAttack standard settings by default. */
export function apgdT(options: Partial<ApgdOptions> = {}): Apgd {
  return new Apgd({ ...APGD_T_DEFAULTS, ...options, loss: 'dlr-targeted' });
}
