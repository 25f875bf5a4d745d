/**
 * The per-epoch evaluation both target training (targets/train.ts) and defense training
 * (defenses/train.ts) hand to the loop: clean accuracy and accuracy under an L∞ PGD attack of a model
 * on a test subset, in batches, in eval mode. It sits here, below both, so that the two report
 * numbers computed the same way.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Split } from '../data/types.js';
import { toFloatBatch } from '../data/pipeline.js';
import type { LogitsFn } from '../models/types.js';
import { pgd } from '../attacks/pgd.js';

/** The PGD of `accuracyUnderPgd` (CE loss, uniform random start) and the batching. */
export interface PgdAccuracyOptions {
  readonly eps: number;
  /** PGD steps; 0 skips the attack (pgdAcc is then NaN). */
  readonly steps: number;
  readonly stepSize: number;
  readonly batchSize: number;
  /** Batch b's attack seed is seed + its first index. */
  readonly seed: number;
}

/** Clean and PGD accuracy (%) of `model` on `split`; a point is robust when the attack's x_adv is still classified right. */
export function accuracyUnderPgd(
  model: LogitsFn,
  split: Split,
  imageShape: readonly [number, number, number],
  opts: PgdAccuracyOptions,
): { cleanAcc: number; pgdAcc: number } {
  const attack = pgd({ eps: opts.eps, steps: opts.steps, stepSize: opts.stepSize });
  let clean = 0;
  let robust = 0;
  for (let start = 0; start < split.count; start += opts.batchSize) {
    const idx = Array.from({ length: Math.min(opts.batchSize, split.count - start) }, (_, i) => start + i);
    const { x, y } = toFloatBatch(split, idx, imageShape);
    try {
      clean += tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.argMax(model(x), 1), y), 'int32')).dataSync()[0]!);
      if (opts.steps > 0) {
        const { xAdv, success } = attack.run(model, x, y, opts.seed + start);
        xAdv.dispose();
        robust += success.filter((s) => !s).length;
      }
    } finally {
      tf.dispose([x, y]);
    }
  }
  const pct = (n: number): number => (100 * n) / Math.max(1, split.count);
  return { cleanAcc: pct(clean), pgdAcc: opts.steps > 0 ? pct(robust) : Number.NaN };
}
