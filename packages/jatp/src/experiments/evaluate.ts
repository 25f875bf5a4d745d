/**
 * The evaluation harness of spec §5.7: clean accuracy of the full model F = T o clip01 o P, then, per
 * attack, robust accuracy with adaptive gradients through P (or BPDA's identity backward), the
 * AutoAttack per-stage accuracies, the per-example outcomes and the paper's Fig. 2(b) quantity (mean
 * L1 distance of adversarial and of purified images to the natural ones, on the 0–255 scale, A20).
 *
 * Every attack is evaluated against the *true* full model: a BPDA attack only changes the gradient
 * the attacker uses, never the model that is scored.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Split } from '../data/types.js';
import { toFloatBatch } from '../data/pipeline.js';
import type { LogitsFn } from '../models/types.js';
import type { Attack } from '../attacks/types.js';
import type { AttackSpec } from '../attacks/registry.js';
import { buildAttack } from '../attacks/registry.js';
import type { AutoAttackReport } from '../attacks/autoattack.js';
import type { BallNorm } from '../attacks/common.js';
import { ensureGradients } from '../gradients.js';

/** What is attacked: exact logits, BPDA logits (identity backward through P) and T's input. */
export interface EvaluatedModel {
  /** F(x) = T(clip01(P(x))), exact gradients. */
  readonly logits: LogitsFn;
  /** Same forward as `logits`, identity backward through P; equals `logits` without P. */
  readonly bpdaLogits: LogitsFn;
  /** clip01(P(x)) (or x without a pre-processor), for the L1 distances. */
  readonly preprocess?: (x: tf.Tensor4D) => tf.Tensor4D;
}

export interface EvaluationOptions {
  readonly attacks: readonly AttackSpec[];
  readonly eps: number;
  readonly norm: BallNorm;
  readonly batchSize: number;
  readonly seed: number;
  /** Called after each batch of each attack (and of the clean pass, with attack 'clean'). */
  readonly onProgress?: (attack: string, done: number, total: number) => void;
  /** Build an attack from its spec; defaults to the registry's `buildAttack` (tests inject small budgets). */
  readonly build?: (spec: AttackSpec, eps: number, norm: BallNorm) => Attack;
}

export const EVALUATION_DEFAULTS = { eps: 8 / 255, norm: 'Linf' as BallNorm, batchSize: 100, seed: 0 };

export interface StageAccuracy {
  readonly name: string;
  /** Robust accuracy (fraction of all evaluated points) after this stage. */
  readonly robustAccuracy: number;
}

export interface AttackEvaluation {
  readonly attack: string;
  readonly bpda: boolean;
  /** Fraction of the evaluated points that F still classifies correctly after the attack. */
  readonly robustAccuracy: number;
  /** Per example: correct after the attack (clean-misclassified points count as not robust). */
  readonly robust: boolean[];
  /** AutoAttack only: accuracy after each stage. */
  readonly stages?: StageAccuracy[];
  /** Mean |x_adv - x| x 255 over all elements (paper Fig. 2(b)). */
  readonly meanL1AdvVsNatural: number;
  /** Mean |clip01(P(x_adv)) - x| x 255; undefined without a pre-processor. */
  readonly meanL1PurifiedVsNatural?: number;
  /**
   * Points the attack actually perturbed (x_adv != x). Attacks such as AutoAttack return misclassified
   * points unchanged; averaging their zero distance in would understate Fig. 2(b)'s distances.
   */
  readonly attackedCount: number;
  /** `meanL1AdvVsNatural` over the attacked points only (0 when none was attacked). */
  readonly meanL1AdvVsNaturalAttacked: number;
  /** `meanL1PurifiedVsNatural` over the attacked points only; undefined without a pre-processor. */
  readonly meanL1PurifiedVsNaturalAttacked?: number;
  readonly seconds: number;
}

export interface EvaluationReport {
  readonly n: number;
  readonly eps: number;
  readonly norm: BallNorm;
  readonly cleanAccuracy: number;
  readonly clean: boolean[];
  readonly labels: number[];
  readonly attacks: AttackEvaluation[];
}

function correctMask(model: LogitsFn, x: tf.Tensor4D, y: tf.Tensor1D): boolean[] {
  const correct = tf.tidy(() => tf.equal(tf.cast(tf.argMax(model(x), 1), 'int32'), tf.cast(y, 'int32')));
  const values = correct.dataSync();
  correct.dispose();
  return Array.from(values, (v) => v === 1);
}

function meanAbsDiff255(a: tf.Tensor4D, b: tf.Tensor4D): number {
  const m = tf.tidy(() => tf.mul(tf.mean(tf.abs(tf.sub(a, b))), 255));
  const v = m.dataSync()[0]!;
  m.dispose();
  return v;
}

/** Per example: mean |a - b| x 255 over its elements. */
function perExampleAbsDiff255(a: tf.Tensor4D, b: tf.Tensor4D): Float32Array {
  const m = tf.tidy(() => tf.mul(tf.mean(tf.abs(tf.sub(a, b)), [1, 2, 3]), 255));
  const v = m.dataSync() as Float32Array;
  m.dispose();
  return v;
}

function defaultBuild(spec: AttackSpec, eps: number, norm: BallNorm): Attack {
  return buildAttack(spec, { eps, norm });
}

/**
 * Evaluates `model` on `split` (all of it: subset the split before calling) under every attack.
 * Deterministic given `options.seed`: batch b of attack a uses seed + 1000 * a + b.
 */
export function evaluate(model: EvaluatedModel, split: Split, options: EvaluationOptions): EvaluationReport {
  ensureGradients();
  const n = split.count;
  const batchSize = Math.max(1, options.batchSize);
  const batches: number[][] = [];
  for (let start = 0; start < n; start += batchSize) {
    batches.push(Array.from({ length: Math.min(batchSize, n - start) }, (_, i) => start + i));
  }
  const clean: boolean[] = [];
  let done = 0;
  for (const indices of batches) {
    const { x, y } = toFloatBatch(split, indices);
    clean.push(...correctMask(model.logits, x, y));
    x.dispose();
    y.dispose();
    done += indices.length;
    options.onProgress?.('clean', done, n);
  }
  const build = options.build ?? defaultBuild;
  const attacks: AttackEvaluation[] = [];
  options.attacks.forEach((spec, attackIndex) => {
    const attack = build(spec, options.eps, options.norm);
    const attacked = spec.bpda ? model.bpdaLogits : model.logits;
    const robust: boolean[] = [];
    let l1Adv = 0;
    let l1Purified = 0;
    let attackedCount = 0;
    let l1AdvAttacked = 0;
    let l1PurifiedAttacked = 0;
    let stageCorrect: number[] | undefined;
    let stageNames: string[] | undefined;
    const started = Date.now();
    let seen = 0;
    batches.forEach((indices, b) => {
      const { x, y } = toFloatBatch(split, indices);
      const result = attack.run(attacked, x, y, options.seed + 1000 * attackIndex + b);
      const stillCorrect = correctMask(model.logits, result.xAdv, y);
      indices.forEach((index, i) => robust.push(clean[index]! && stillCorrect[i]!));
      l1Adv += meanAbsDiff255(result.xAdv, x) * indices.length;
      const advL1 = perExampleAbsDiff255(result.xAdv, x);
      const attackedHere = Array.from(advL1, (d) => d > 0);
      advL1.forEach((d, i) => {
        if (attackedHere[i]) {
          attackedCount++;
          l1AdvAttacked += d;
        }
      });
      if (model.preprocess) {
        const purified = tf.tidy(() => model.preprocess!(result.xAdv));
        l1Purified += meanAbsDiff255(purified, x) * indices.length;
        perExampleAbsDiff255(purified, x).forEach((d, i) => {
          if (attackedHere[i]) l1PurifiedAttacked += d;
        });
        purified.dispose();
      }
      const report = result as Partial<AutoAttackReport>;
      if (report.stages) {
        stageNames ??= report.stages.map((s) => s.name);
        stageCorrect ??= report.stages.map(() => 0);
        report.stages.forEach((s, k) => (stageCorrect![k]! += Math.round(s.robustAccuracy * indices.length)));
      }
      result.xAdv.dispose();
      x.dispose();
      y.dispose();
      seen += indices.length;
      options.onProgress?.(spec.text, seen, n);
    });
    attacks.push({
      attack: spec.text,
      bpda: spec.bpda,
      robustAccuracy: robust.filter(Boolean).length / n,
      robust,
      stages: stageNames?.map((name, k) => ({ name, robustAccuracy: stageCorrect![k]! / n })),
      meanL1AdvVsNatural: l1Adv / n,
      meanL1PurifiedVsNatural: model.preprocess ? l1Purified / n : undefined,
      attackedCount,
      meanL1AdvVsNaturalAttacked: attackedCount > 0 ? l1AdvAttacked / attackedCount : 0,
      meanL1PurifiedVsNaturalAttacked: model.preprocess ? (attackedCount > 0 ? l1PurifiedAttacked / attackedCount : 0) : undefined,
      seconds: (Date.now() - started) / 1000,
    });
  });
  return {
    n,
    eps: options.eps,
    norm: options.norm,
    cleanAccuracy: clean.filter(Boolean).length / n,
    clean,
    labels: Array.from(split.labels.subarray(0, n)),
    attacks,
  };
}
