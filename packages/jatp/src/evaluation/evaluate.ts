/**
 * The evaluation harness of spec §5.7: clean accuracy of the full model F = T o clip01 o P, then, per
 * attack, robust accuracy with adaptive gradients through P (or BPDA's identity backward), the
 * AutoAttack per-stage accuracies, the per-example outcomes and the paper's Fig. 2(b) quantity (mean
 * L1 distance of adversarial and of purified images to the natural ones, on the 0–255 scale, A20).
 *
 * Every attack is evaluated against the *true* full model: a BPDA attack only changes the gradient
 * the attacker uses, never the model that is scored.
 */
import * as fs from 'node:fs';
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs-core';
import type { Split } from '../data/types.js';
import { toFloatBatch } from '../data/pipeline.js';
import type { LogitsFn } from '../models/types.js';
import { batchDistances, correctMask, isRandomized } from './batch-scoring.js';
import type { Attack } from '../attacks/types.js';
import type { AttackSpec } from '../attacks/attack-specs.js';
import { buildAttack } from '../attacks/attack-specs.js';
import type { AutoAttackReport } from '../attacks/autoattack.js';
import type { BallNorm } from '../attacks/ball-and-losses.js';
import { ensureGradients } from '../gradients.js';
import {
  type EvaluationKey,
  type EvaluationState,
  type ShardSpec,
  checkStateMatches,
  emptyState,
  keyDifferences,
  readState,
  shardBatches,
  writeState,
} from './eval-state.js';
import { PAPER_EPS } from '../data/threat-model.js';

/** What is attacked: exact logits, BPDA logits (identity backward through P) and T's input. */
export interface EvaluatedModel {
  /** F(x) = T(clip01(P(x))), exact gradients. */
  readonly logits: LogitsFn;
  /** Same forward as `logits`, identity backward through P; equals `logits` without P. */
  readonly bpdaLogits: LogitsFn;
  /** clip01(P(x)) (or x without a pre-processor), for the L1 distances. */
  readonly preprocess?: (x: tf.Tensor4D) => tf.Tensor4D;
}

/** Options of `evaluate`: attack specs, ε, norm, batch size, seed, progress callback, attack builder. */
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
  /**
   * A file where each finished (attack, batch) is recorded as it goes (atomically). When it exists and
   * its key (identity, data, attack settings, seed, n, batch size, repeat) matches, the evaluation
   * resumes from it and ends with the report an uninterrupted run gives; a mismatch is refused with
   * a message naming what changed.
   */
  readonly statePath?: string;
  /** Identity of the model, pre-processor and data source (e.g. weight checksums), part of the state key. */
  readonly identity?: Readonly<Record<string, string>>;
  /** Evaluate only this shard's contiguous block of batches (see `shardBatches`); merge with `mergeStates`. */
  readonly shard?: ShardSpec;
  /**
   * Forward passes per final decision (default 1): a randomized model counts an example as correct only
   * if all k passes classify it correctly (worst case). A model found deterministic is run once.
   */
  readonly repeat?: number;
  /**
   * EOT draws (an integer >= 1) for every attack: passed to each `attack.run` as its `eot` run option,
   * so every loss and gradient is averaged over that many forward passes (attacks/eot.ts). It matters
   * only for a randomized model; the final decisions are still made by `repeat`. Absent: no `eot`
   * option (one pass, or an `eotModel`'s own draws); part of the state key as 1.
   */
  readonly eot?: number;
  /**
   * Called with each finished (attack, batch) before it is recorded in the state (so that what it
   * writes, e.g. archived examples, exists whenever the state says the batch is done).
   */
  readonly onAttackBatch?: (batch: AttackBatch) => void;
  /** Extra description stored with the state (the CLI keeps its report header there). */
  readonly meta?: Record<string, unknown>;
}

/** One finished (attack, batch), as `onAttackBatch` sees it (tensors are disposed after the call). */
export interface AttackBatch {
  readonly attackIndex: number;
  readonly attack: string;
  readonly batch: number;
  /** Test-set positions (within the evaluated split) of the batch's examples. */
  readonly indices: readonly number[];
  readonly x: tf.Tensor4D;
  readonly y: tf.Tensor1D;
  readonly xAdv: tf.Tensor4D;
  /** clip01(P(x_adv)); undefined without a pre-processor. */
  readonly purified?: tf.Tensor4D;
  readonly robust: readonly boolean[];
}

/** Defaults of `evaluate`: ε = 8/255, L∞, batches of 100, seed 0. */
export const EVALUATION_DEFAULTS = { eps: PAPER_EPS, norm: 'Linf' as BallNorm, batchSize: 100, seed: 0 };

/** AutoAttack's accuracy after one stage, in an EvaluationReport. */
export interface StageAccuracy {
  readonly name: string;
  /** Robust accuracy (fraction of all evaluated points) after this stage. */
  readonly robustAccuracy: number;
}

/** One attack's row of an EvaluationReport. */
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
  readonly attackedCount?: number;
  /** `meanL1AdvVsNatural` over the attacked points only (0 when none was attacked). */
  readonly meanL1AdvVsNaturalAttacked?: number;
  /** `meanL1PurifiedVsNatural` over the attacked points only; undefined without a pre-processor. */
  readonly meanL1PurifiedVsNaturalAttacked?: number;
  /** With a pre-processor (and every batch recorded by this version): per example, the two distances (0–255), in test order. */
  readonly l1AdvPerExample?: number[];
  readonly l1PurifiedPerExample?: number[];
  readonly seconds: number;
}

/** The report of `evaluate`: clean accuracy, per-attack robust accuracy and distances, per-example outcomes. */
export interface EvaluationReport {
  readonly n: number;
  readonly eps: number;
  readonly norm: BallNorm;
  readonly cleanAccuracy: number;
  readonly clean: boolean[];
  readonly labels: number[];
  readonly attacks: AttackEvaluation[];
  /**
   * Worst case per example over every attack run: correct under none of them fooled it ("robust
   * accuracy under the union of attacks"), the headline number; equals cleanAccuracy without attacks.
   */
  readonly unionRobustAccuracy: number;
  /** The model gave different logits for the same input (first clean batch, two passes). */
  readonly randomized: boolean;
  /** Forward passes behind each final decision (repeat for a randomized model, else 1). */
  readonly decisionPasses: number;
  /** EOT draws each attack averaged its losses and gradients over (the `eot` option; 1 without it). */
  readonly eotDraws: number;
  /** Images the attacks pushed through the model (queries and gradient passes), summed over attacks. */
  readonly forwardPasses: number;
  /** Only for a shard's report: which shard, and the test index of its first example. */
  readonly shard?: ShardSpec & { readonly firstIndex: number };
}

/** Correct in every one of `passes` forward passes (the worst case for a randomized model). */
function worstCaseCorrect(model: LogitsFn, x: tf.Tensor4D, y: tf.Tensor1D, passes: number): boolean[] {
  const mask = correctMask(model, x, y);
  for (let p = 1; p < passes; p++) correctMask(model, x, y).forEach((c, i) => (mask[i] = mask[i]! && c));
  return mask;
}

function defaultBuild(spec: AttackSpec, eps: number, norm: BallNorm): Attack {
  return buildAttack(spec, { eps, norm });
}

/** Counts images forwarded through `model`, keeping its own properties (an EOT model's `eot`). */
function counting(model: LogitsFn, counter: { images: number }): LogitsFn {
  const wrapped = (x: tf.Tensor4D): tf.Tensor2D => {
    counter.images += x.shape[0];
    return model(x);
  };
  return Object.assign(wrapped, model);
}

/** sha256 of a split's pixels, labels and shape: the "data" part of the state key. */
export function splitFingerprint(split: Split): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ count: split.count, shape: split.imageShape ?? null }));
  h.update(split.images.subarray(0, split.images.length));
  h.update(new Uint8Array(split.labels.buffer, split.labels.byteOffset, split.count * 4));
  return `sha256:${h.digest('hex')}`;
}

/** Batch b holds examples [b*batchSize, min(n, (b+1)*batchSize)). */
export function batchRanges(n: number, batchSize: number): number[][] {
  const batches: number[][] = [];
  for (let start = 0; start < n; start += batchSize) {
    batches.push(Array.from({ length: Math.min(batchSize, n - start) }, (_, i) => start + i));
  }
  return batches;
}

/** How an attack is written in the key and the report: its text, marked when run through BPDA. */
export function attackLabel(spec: AttackSpec): string {
  return spec.bpda && spec.family !== 'bpda' ? `${spec.text} (bpda)` : spec.text;
}

export function evaluationKey(split: Split, options: EvaluationOptions): EvaluationKey {
  return {
    identity: { ...(options.identity ?? {}) },
    data: splitFingerprint(split),
    n: split.count,
    batchSize: Math.max(1, options.batchSize),
    seed: options.seed,
    eps: options.eps,
    norm: options.norm,
    attacks: options.attacks.map(attackLabel),
    repeat: options.repeat ?? 1,
    eot: options.eot ?? 1,
  };
}

/**
 * Evaluates `model` on `split` (all of it: subset the split before calling) under every attack.
 * Deterministic given `options.seed`: batch b of attack a uses seed + 1000 * a + b, whatever shard
 * or restart computes it.
 */
export function evaluate(model: EvaluatedModel, split: Split, options: EvaluationOptions): EvaluationReport {
  ensureGradients();
  if (options.eot !== undefined && (!Number.isSafeInteger(options.eot) || options.eot < 1)) {
    throw new Error(`evaluate: eot must be an integer >= 1 (EOT draws per loss / gradient), got ${options.eot}`);
  }
  const key = evaluationKey(split, options);
  const batches = batchRanges(key.n, key.batchSize);
  const mine = shardBatches(batches.length, options.shard);
  let state: EvaluationState;
  if (options.statePath && fs.existsSync(options.statePath)) {
    state = readState(options.statePath);
    checkStateMatches(options.statePath, state, key, options.shard);
  } else {
    state = emptyState(key, options.shard);
  }
  if (options.meta) state.meta = options.meta;
  const save = (): void => {
    if (options.statePath) writeState(options.statePath, state);
  };
  const counter = { images: 0 };
  const exact = counting(model.logits, counter);
  const bpda = counting(model.bpdaLogits, counter);
  const shardCount = mine.reduce((acc, b) => acc + batches[b]!.length, 0);

  let done = 0;
  let changed = false;
  for (const b of mine) {
    const indices = batches[b]!;
    if (!state.clean[b]) {
      const { x, y } = toFloatBatch(split, indices);
      if (state.randomized === undefined) state.randomized = isRandomized(model.logits, x);
      const passes = state.randomized ? key.repeat : 1;
      counter.images = 0;
      state.clean[b] = { correct: worstCaseCorrect(exact, x, y, passes), labels: indices.map((i) => split.labels[i]!) };
      tf.dispose([x, y]);
      changed = true;
    }
    done += indices.length;
    options.onProgress?.('clean', done, shardCount);
  }
  // A shard that owns no batch still records its (empty) state, so that merge finds every shard.
  if (changed || (options.statePath !== undefined && !fs.existsSync(options.statePath))) save();
  const passes = state.randomized ? key.repeat : 1;

  const build = options.build ?? defaultBuild;
  options.attacks.forEach((spec, attackIndex) => {
    const records = state.attacks[attackIndex]!;
    let attack: Attack | undefined;
    const attacked = spec.bpda ? bpda : exact;
    let seen = 0;
    for (const b of mine) {
      const indices = batches[b]!;
      if (!records[b]) {
        attack ??= build(spec, options.eps, options.norm);
        const started = Date.now();
        counter.images = 0;
        const { x, y } = toFloatBatch(split, indices);
        const seed = options.seed + 1000 * attackIndex + b;
        const result = attack.run(attacked, x, y, options.eot === undefined ? seed : { seed, eot: options.eot });
        const forwarded = counter.images;
        const stillCorrect = worstCaseCorrect(exact, result.xAdv, y, passes);
        const clean = state.clean[b]!.correct;
        const purified = model.preprocess ? tf.tidy(() => model.preprocess!(result.xAdv)) : undefined;
        const distances = batchDistances(result.xAdv, x, purified);
        const robust = indices.map((_, i) => clean[i]! && stillCorrect[i]!);
        options.onAttackBatch?.({ attackIndex, attack: attackLabel(spec), batch: b, indices, x, y, xAdv: result.xAdv, purified, robust });
        purified?.dispose();
        const report = result as Partial<AutoAttackReport>;
        records[b] = {
          robust,
          ...distances,
          stageNames: report.stages?.map((s) => s.name),
          stageCorrect: report.stages?.map((s) => Math.round(s.robustAccuracy * indices.length)),
          seconds: (Date.now() - started) / 1000,
          forwarded,
        };
        tf.dispose([result.xAdv, x, y]);
        save();
      }
      seen += indices.length;
      options.onProgress?.(attackLabel(spec), seen, shardCount);
    }
  });
  return assembleReport(state, mine, options.shard);
}

/**
 * The report from per-batch records, summed in batch order (so that an uninterrupted run, a resumed
 * one and merged shards agree bit for bit). `batchIndices` are the batches to include (default all).
 */
export function assembleReport(state: EvaluationState, batchIndices?: readonly number[], shard?: ShardSpec): EvaluationReport {
  const key = state.key;
  const batches = batchRanges(key.n, key.batchSize);
  batchIndices ??= shardBatches(batches.length);
  const examples = batchIndices.flatMap((b) => batches[b]!);
  const count = examples.length;
  const clean: boolean[] = [];
  const labels: number[] = [];
  for (const b of batchIndices) {
    const record = state.clean[b];
    if (!record) throw new Error(`evaluation state: clean batch ${b} is missing`);
    clean.push(...record.correct);
    labels.push(...record.labels);
  }
  let forwardPasses = 0;
  const attacks: AttackEvaluation[] = key.attacks.map((label, a) => {
    const list = batchIndices!;
    const robust: boolean[] = [];
    let l1Adv = 0;
    let l1Purified = 0;
    let attackedCount = 0;
    let l1AdvAttacked = 0;
    let l1PurifiedAttacked = 0;
    let hasPurified = false;
    let seconds = 0;
    let stageNames: string[] | undefined;
    let stageCorrect: number[] | undefined;
    const l1AdvPerExample: number[] = [];
    const l1PurifiedPerExample: number[] = [];
    let perExample = true;
    for (const b of list) {
      const r = state.attacks[a]![b];
      if (!r) throw new Error(`evaluation state: attack '${label}' batch ${b} is missing`);
      robust.push(...r.robust);
      l1Adv += r.l1Adv;
      attackedCount += r.attacked ?? 0;
      l1AdvAttacked += r.l1AdvAttacked ?? 0;
      l1PurifiedAttacked += r.l1PurifiedAttacked ?? 0;
      if (r.l1Purified !== undefined) {
        l1Purified += r.l1Purified;
        hasPurified = true;
      }
      seconds += r.seconds;
      forwardPasses += r.forwarded ?? 0;
      if (r.l1AdvPerExample && r.l1PurifiedPerExample) {
        l1AdvPerExample.push(...r.l1AdvPerExample);
        l1PurifiedPerExample.push(...r.l1PurifiedPerExample);
      } else perExample = false;
      if (r.stageNames && r.stageCorrect) {
        stageNames ??= r.stageNames;
        stageCorrect ??= r.stageNames.map(() => 0);
        r.stageCorrect.forEach((c, k) => (stageCorrect![k]! += c));
      }
    }
    return {
      attack: label.replace(/ \(bpda\)$/, ''),
      bpda: label.endsWith(' (bpda)') || /^bpda/i.test(label),
      robustAccuracy: robust.filter(Boolean).length / count,
      robust,
      stages: stageNames?.map((name, k) => ({ name, robustAccuracy: stageCorrect![k]! / count })),
      meanL1AdvVsNatural: l1Adv / count,
      meanL1PurifiedVsNatural: hasPurified ? l1Purified / count : undefined,
      attackedCount,
      meanL1AdvVsNaturalAttacked: attackedCount > 0 ? l1AdvAttacked / attackedCount : 0,
      meanL1PurifiedVsNaturalAttacked: hasPurified ? (attackedCount > 0 ? l1PurifiedAttacked / attackedCount : 0) : undefined,
      ...(hasPurified && perExample ? { l1AdvPerExample, l1PurifiedPerExample } : {}),
      seconds,
    };
  });
  const union = clean.map((c, i) => c && attacks.every((a) => a.robust[i]!));
  return {
    n: count,
    eps: key.eps,
    norm: key.norm as BallNorm,
    cleanAccuracy: clean.filter(Boolean).length / count,
    clean,
    labels,
    attacks,
    unionRobustAccuracy: union.filter(Boolean).length / count,
    randomized: state.randomized === true,
    decisionPasses: state.randomized ? key.repeat : 1,
    eotDraws: key.eot ?? 1,
    forwardPasses,
    ...(shard ? { shard: { ...shard, firstIndex: examples[0] ?? 0 } } : {}),
  };
}

/**
 * Combines the states of shards 1..n of one evaluation into the state an unsharded run would have
 * kept. Refuses shards of different evaluations, duplicates and gaps, naming the files.
 */
export function mergeStates(states: readonly { file: string; state: EvaluationState }[]): EvaluationState {
  if (states.length === 0) throw new Error('eval merge: no shard files given');
  const first = states[0]!;
  const count = first.state.shard?.count ?? 1;
  const seen = new Map<number, string>();
  for (const { file, state } of states) {
    const diffs = keyDifferences(first.state.key, state.key);
    if (diffs.length > 0) throw new Error(`eval merge: '${file}' is from a different evaluation than '${first.file}'; changed: ${diffs.join('; ')}`);
    const c = state.shard?.count ?? 1;
    if (c !== count) throw new Error(`eval merge: '${file}' is shard of ${c}, '${first.file}' of ${count}`);
    const index = state.shard?.index ?? 0;
    if (seen.has(index)) throw new Error(`eval merge: '${file}' and '${seen.get(index)}' are both shard ${index + 1}/${count}`);
    seen.set(index, file);
  }
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !seen.has(i));
  if (missing.length > 0) throw new Error(`eval merge: shard(s) ${missing.map((i) => `${i + 1}/${count}`).join(', ')} missing`);
  const merged = emptyState(first.state.key);
  const batchCount = batchRanges(first.state.key.n, first.state.key.batchSize).length;
  for (const { file, state } of states) {
    for (const b of shardBatches(batchCount, state.shard)) {
      const clean = state.clean[b];
      if (!clean) throw new Error(`eval merge: '${file}' is unfinished (clean batch ${b} missing); run its shard to the end first`);
      merged.clean[b] = clean;
      state.key.attacks.forEach((label, a) => {
        const r = state.attacks[a]![b];
        if (!r) throw new Error(`eval merge: '${file}' is unfinished (attack '${label}' batch ${b} missing); run its shard to the end first`);
        merged.attacks[a]![b] = r;
      });
    }
    if (state.randomized) merged.randomized = true;
    else merged.randomized ??= state.randomized;
  }
  merged.meta = first.state.meta;
  return merged;
}
