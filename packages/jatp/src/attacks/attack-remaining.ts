/**
 * "Attack the points that are still robust, merge the results back": the bookkeeping shared by every
 * attack made of stages, restarts or targets (APGD's restarts and targets, AutoAttack's stages, FAB's
 * targets, Square's restarts; spec §5.3). A stage runs on the gathered subset of not-yet-fooled points
 * only, and the rows it fooled replace theirs in the running adversarial batch.
 *
 * Merging is one gather over [base; rows] (replaceRows): a pure selection, so the merged values are
 * exactly the stage's, and no in-place scatter is used (the cpu backend's tensorScatterUpdate writes
 * into its input's buffer).
 *
 * Usage:
 *   const fooled = cleanMisclassified.slice();     // host flags, updated in place
 *   let xAdv = tf.clone(x);
 *   xAdv = attackRemaining(x, y, xAdv, fooled, (xs, ys, todo) => {
 *     const r = someAttack.run(model, xs, ys, seed);
 *     return { xAdv: r.xAdv, fooled: r.success };
 *   }).xAdv;
 */
import * as tf from '@tensorflow/tfjs-core';

/** What one stage reports about the subset it was given (row j = global point todo[j]). */
export interface StageOutcome {
  /** Candidate adversarial rows for the subset, [todo.length, H, W, C]; disposed by attackRemaining. */
  readonly xAdv: tf.Tensor4D;
  /** Per subset row: the stage fooled it (only these rows are merged). */
  readonly fooled: ArrayLike<boolean>;
}

/** One stage of `attackRemaining`: runs on the gathered not-yet-fooled points (global indices `todo`). */
export type Stage = (xs: tf.Tensor4D, ys: tf.Tensor1D, todo: readonly number[]) => StageOutcome;

/** What `attackRemaining` returns. */
export interface RemainingResult {
  /** The merged adversarial batch (a new tensor when something was merged, else `xAdv` itself). */
  readonly xAdv: tf.Tensor4D;
  /** Global indices this stage fooled. */
  readonly newlyFooled: readonly number[];
  /** Whether the stage ran (false: every point was already fooled). */
  readonly ran: boolean;
}

/**
 * Runs `stage` on the points whose `fooled` flag is false, sets the flags of the points it fooled and
 * merges their rows into `xAdv`. `xAdv` is consumed: the caller keeps only the returned tensor. The
 * stage's `xAdv` and the gathered subset are disposed here.
 */
export function attackRemaining(
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  xAdv: tf.Tensor4D,
  fooled: boolean[],
  stage: Stage,
): RemainingResult {
  const todo = fooled.flatMap((f, i) => (f ? [] : [i]));
  if (todo.length === 0) return { xAdv, newlyFooled: [], ran: false };
  const idx = tf.tensor1d(Int32Array.from(todo), 'int32');
  const xs = tf.gather(x, idx) as tf.Tensor4D;
  const ys = tf.gather(y, idx) as tf.Tensor1D;
  let outcome: StageOutcome;
  try {
    outcome = stage(xs, ys, todo);
  } finally {
    tf.dispose([idx, xs, ys]);
  }
  const rows: number[] = [];
  const globals: number[] = [];
  todo.forEach((g, j) => {
    if (outcome.fooled[j]) {
      rows.push(j);
      globals.push(g);
      fooled[g] = true;
    }
  });
  let merged = xAdv;
  if (rows.length > 0) {
    merged = tf.tidy(() => replaceRows(xAdv, globals, tf.gather(outcome.xAdv, tf.tensor1d(Int32Array.from(rows), 'int32'))));
    xAdv.dispose();
  }
  outcome.xAdv.dispose();
  return { xAdv: merged, newlyFooled: globals, ran: true };
}

/**
 * New tensor equal to `base` with rows `positions[a]` replaced by `rows[a]`, as one gather over
 * [base; rows]. (tf.tensorScatterUpdate is avoided: the cpu backend writes into its input's buffer.)
 */
export function replaceRows<T extends tf.Tensor>(base: T, positions: readonly number[], rows: tf.Tensor): T {
  return tf.tidy(() => {
    const n = base.shape[0]!;
    const map = new Int32Array(n);
    for (let i = 0; i < n; i++) map[i] = i;
    positions.forEach((p, a) => {
      map[p] = n + a;
    });
    return tf.gather(tf.concat([base, rows], 0), tf.tensor1d(map, 'int32')) as T;
  });
}
