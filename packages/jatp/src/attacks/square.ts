import * as tf from '@tensorflow/tfjs-core';
import { linfStep, squareAccept } from 'tfjs-backend-torch/fused';
import type { LogitsFn } from '../models/types.js';
import { averagedLoss, checkInputs, cwMarginPerExample, isEot, SeedStream } from './ball-and-losses.js';
import type { Attack, AttackResult } from './types.js';
import { type AttackModel, type SeedOrOptions, prepareRun } from './model.js';
import { attackRemaining, replaceRows } from './attack-remaining.js';
import { PAPER_EPS } from '../data/threat-model.js';

/**
 * Square attack, L-inf version (Andriushchenko, Croce, Flammarion, Hein, "Square Attack: a
 * query-efficient black-box adversarial attack via random search", ECCV 2020), as run by
 * AutoAttack's "standard" evaluation (spec §5.3).
 *
 * Threat model: L-inf ball of radius `eps` around x, intersected with [0, 1]. Score-based and
 * gradient-free: the model is only ever called forward, so it also works on models whose gradient
 * is broken or masked.
 *
 * Algorithm: start from vertical stripes x + eps * s (one random sign per example, channel and
 * column); then, for every example not yet misclassified, propose a random square window whose
 * pixels are set to the opposite corner of the eps-box (+-2 eps from the current point, one random
 * sign per channel), project back into the ball, and keep the proposal if the margin loss
 * z_y - max_{k != y} z_k decreases or the example becomes misclassified. For a randomised model run
 * with EOT draws (`run(..., { eot: k })`, eot.ts) the margin compared is the mean over the k draws.
 *
 * Options (defaults in {@link SQUARE_DEFAULTS}):
 * - `eps` = 8/255: L-inf radius in [0, 1] pixel units.
 * - `nQueries` = 5000: model queries per example, the stripe initialisation counting as query 1.
 * - `pInit` = 0.8: initial fraction of pixels covered by the square (side 29 on 32x32).
 * - `restarts` = 1: independent runs; a restart only attacks examples the previous ones missed.
 * - `seed` = 0: default seed when `run` is not given one.
 *
 * Shapes: x [N, H, W, C] in [0, 1], y [N] int32 labels. Returns xAdv [N, H, W, C] with
 * |xAdv - x| <= eps and xAdv in [0, 1]; `success[i]` is true iff xAdv[i] is misclassified.
 * The window position and channel signs are drawn per example (as in the Square paper; AutoAttack's
 * code shares them across the batch, spec §5.3 allows either).
 *
 * Usage:
 *   const { xAdv, success } = square({ eps: 8 / 255, nQueries: 5000 }).run(fullModel, x, y, 0);
 *   const robustAcc = success.filter((s) => !s).length / success.length;
 */
export interface SquareOptions {
  readonly eps: number;
  readonly nQueries: number;
  readonly pInit: number;
  readonly restarts: number;
  readonly seed: number;
}

/** Defaults of Square (spec §5.3): ε = 8/255, 5000 queries, p_init 0.8, 1 restart, seed 0. */
export const SQUARE_DEFAULTS: SquareOptions = Object.freeze({
  eps: PAPER_EPS,
  nQueries: 5000,
  pInit: 0.8,
  restarts: 1,
  seed: 0,
});

/**
 * Fraction of pixels changed at iteration `it` (0-based, counting iterations after the
 * initialisation): p_init halved at the AutoAttack breakpoints 10, 50, 200, 500, 1000, 2000, 4000,
 * 6000, 8000 (spec §5.3; no rescaling of the schedule to the query budget, as in AutoAttack).
 */
export function squareP(pInit: number, it: number): number {
  const breakpoints = [10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000];
  let halvings = 0;
  for (const b of breakpoints) if (it > b) halvings += 1;
  return pInit / 2 ** halvings;
}

/** Side of the square window for fraction p of an H x W image: round(sqrt(p*H*W)), in [1, min(H, W)]. */
export function squareSide(p: number, height: number, width: number): number {
  const side = Math.round(Math.sqrt(p * height * width));
  return Math.min(Math.max(side, 1), Math.min(height, width));
}

/** Margin z_y - max_{k != y} z_k per example (<= 0 means misclassified): the CW margin, negated. */
function marginLoss(logits: tf.Tensor2D, y: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => tf.neg(cwMarginPerExample(logits, y)) as tf.Tensor1D);
}

function checkOptions(o: SquareOptions): void {
  if (!(o.eps >= 0)) throw new Error(`square: eps must be >= 0, got ${o.eps}`);
  if (!Number.isInteger(o.nQueries) || o.nQueries < 1) throw new Error(`square: nQueries must be an integer >= 1, got ${o.nQueries}`);
  if (!(o.pInit > 0 && o.pInit <= 1)) throw new Error(`square: pInit must be in (0, 1], got ${o.pInit}`);
  if (!Number.isInteger(o.restarts) || o.restarts < 1) throw new Error(`square: restarts must be an integer >= 1, got ${o.restarts}`);
}

/** One restart on the examples listed in `idx` (indices into x). Returns their best points and margins. */
function squareSingleRun(
  model: LogitsFn,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  o: SquareOptions,
  rng: SeedStream,
): { xBest: tf.Tensor4D; margin: Float32Array } {
  const [n, height, width, channels] = x.shape;
  const eps = o.eps;

  // Vertical stripes: one sign per (example, column, channel), constant down each column.
  const stripeSigns = new Float32Array(n * width * channels);
  for (let i = 0; i < stripeSigns.length; i++) stripeSigns[i] = rng.nextFloat() < 0.5 ? -1 : 1;
  let xBest = tf.tidy(() =>
    tf.clipByValue(tf.add(x, tf.mul(tf.tensor4d(stripeSigns, [n, 1, width, channels]), eps)), 0, 1),
  ) as tf.Tensor4D;
  const marginT = averagedLoss(model, xBest, (z) => marginLoss(z, y));
  const margin = marginT.dataSync() as Float32Array;
  marginT.dispose();

  // The examples still being attacked, with their clean images, labels, best points and margins,
  // gathered only when that set changes (an example was fooled), not at every query: a query on
  // a small model is dominated by per-kernel overhead, and the gathers were a third of its calls.
  let activeIdx: number[] = [];
  let act: { x: tf.Tensor4D; y: tf.Tensor1D; best: tf.Tensor4D; margin: tf.Tensor1D } | undefined;
  const writeBack = () => {
    if (act === undefined) return;
    const merged = replaceRows(xBest, activeIdx, act.best);
    xBest.dispose();
    xBest = merged;
    tf.dispose([act.x, act.y, act.best, act.margin]);
    act = undefined;
  };
  const pixels = height * width * channels;
  const stepSize = Math.fround(2 * eps);
  // One host buffer for every query's step (a view of its first m rows): a fresh zeroed array of
  // m x pixels floats per query cost more than the rest of the host work of a query on a small
  // model. Safe to reuse: the step tensor made from it lives only inside its query's tidy.
  const stepBuffer = new Float32Array(n * pixels);

  for (let it = 0; it < o.nQueries - 1; it++) {
    const active: number[] = [];
    for (let i = 0; i < n; i++) if (margin[i] > 0) active.push(i);
    if (active.length === 0) break;
    if (act === undefined || active.length !== activeIdx.length || active.some((v, k) => v !== activeIdx[k])) {
      writeBack();
      activeIdx = active;
      act = tf.tidy(() => {
        const idx = tf.tensor1d(Int32Array.from(active), 'int32');
        return {
          x: tf.gather(x, idx) as tf.Tensor4D,
          y: tf.gather(y, idx) as tf.Tensor1D,
          best: tf.gather(xBest, idx) as tf.Tensor4D,
          margin: tf.tensor1d(Float32Array.from(active, (i) => margin[i]!)),
        };
      });
    }
    const cur = act!;
    const m = active.length;
    const side = squareSide(squareP(o.pInit, it), height, width);
    // The step, built on the host: +-2 eps (one sign per example and channel) inside each
    // example's window, 0 elsewhere. Same random draws, in the same order, as before.
    const step = stepBuffer.subarray(0, m * pixels);
    step.fill(0);
    for (let a = 0; a < m; a++) {
      const top = Math.floor(rng.nextFloat() * (height - side));
      const left = Math.floor(rng.nextFloat() * (width - side));
      const signs: number[] = [];
      for (let c = 0; c < channels; c++) signs.push(rng.nextFloat() < 0.5 ? -stepSize : stepSize);
      for (let r = top; r < top + side; r++) {
        for (let col = left; col < left + side; col++) {
          const at = a * pixels + (r * width + col) * channels;
          for (let c = 0; c < channels; c++) step[at + c] = signs[c]!;
        }
      }
    }

    const next = tf.tidy(() => {
      // best + step, projected onto the ball and the box: on torch one fused call (linfStep adds
      // stepSize * sign(step) = step itself, since every entry is 0 or +-stepSize), the same floats
      // as projectLinf(best + step) on every backend.
      const proposal = linfStep(cur.best, tf.tensor4d(step, [m, height, width, channels]), cur.x, stepSize, eps, 0, 1);
      if (!isEot(model)) {
        // Margin at the proposals and the accept rule below, as one fused call on torch.
        const [best, margin] = squareAccept(model(proposal), cur.y, proposal, cur.best, cur.margin);
        return { best, margin };
      }
      const newMargin = averagedLoss(model, proposal as tf.Tensor4D, (z) => marginLoss(z, cur.y));
      // Accept if the loss decreased or the point is now misclassified (spec §5.3).
      const accept = tf.logicalOr(tf.less(newMargin, cur.margin), tf.lessEqual(newMargin, 0));
      return {
        best: tf.where(tf.reshape(accept, [m, 1, 1, 1]), proposal, cur.best) as tf.Tensor4D,
        margin: tf.where(accept, newMargin, cur.margin) as tf.Tensor1D,
      };
    });
    const newMargins = next.margin.dataSync();
    for (let a = 0; a < m; a++) margin[active[a]!] = newMargins[a]!;
    tf.dispose([cur.best, cur.margin]);
    cur.best = next.best;
    cur.margin = next.margin;
  }
  writeBack();
  return { xBest, margin };
}

/** Square attack factory (spec §5.3). See {@link SquareOptions} for the options and their defaults. */
export function square(options: Partial<SquareOptions> = {}): Attack {
  const o: SquareOptions = { ...SQUARE_DEFAULTS, ...options };
  checkOptions(o);
  return {
    name: 'square',
    run(attacked: AttackModel, x: tf.Tensor4D, y: tf.Tensor1D, options?: SeedOrOptions): AttackResult {
      const { model, seed } = prepareRun(attacked, options, o.seed);
      checkInputs('square', x, y, o.eps);
      const rng = new SeedStream(seed);
      // Examples already misclassified need no query beyond the clean check.
      const cleanMarginT = averagedLoss(model, x, (z) => marginLoss(z, y));
      const cleanMargin = cleanMarginT.dataSync();
      cleanMarginT.dispose();
      const success = Array.from(cleanMargin, (mv) => mv <= 0);
      let xAdv: tf.Tensor4D = tf.clone(x);
      for (let r = 0; r < o.restarts; r++) {
        xAdv = attackRemaining(x, y, xAdv, success, (xSub, ySub) => {
          const { xBest, margin } = squareSingleRun(model, xSub, ySub, o, rng);
          return { xAdv: xBest, fooled: Array.from(margin, (mv) => mv <= 0) };
        }).xAdv;
      }
      return { xAdv: xAdv as tf.Tensor4D, success };
    },
  };
}
