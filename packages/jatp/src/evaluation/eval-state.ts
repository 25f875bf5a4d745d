/**
 * The record an evaluation keeps of its finished work, so that a killed run resumes where it stopped
 * and sharded runs can be merged: per (attack, batch) the per-example outcomes and the batch's sums,
 * under a key that says exactly which evaluation they belong to.
 *
 * The final report is always assembled from these per-batch records in batch order (see
 * `assembleReport` in evaluate.ts), whether the batches were computed in one go, across restarts or
 * in several shards; floating-point sums are therefore taken in the same order every time and the
 * results agree bit for bit. JSON keeps every double exactly (shortest round-trip form).
 */
import * as fs from 'node:fs';
import { writeFileAtomicSync } from '../io/atomic-write.js';

export const STATE_FORMAT = 'jatp-eval-state';
export const STATE_VERSION = 1;

/** Everything that determines an evaluation's outcome. Two runs with equal keys compute the same batches. */
export interface EvaluationKey {
  /** Caller-supplied identity of the networks and data source (e.g. weight file checksums). */
  readonly identity: Readonly<Record<string, string>>;
  /** sha256 of the evaluated images and labels. */
  readonly data: string;
  readonly n: number;
  readonly batchSize: number;
  readonly seed: number;
  readonly eps: number;
  readonly norm: string;
  /** Attack specs as written, with their BPDA flag, e.g. 'pgd40', 'aa', 'pgd40 (bpda)'. */
  readonly attacks: readonly string[];
  readonly repeat: number;
  /** EOT draws per attack loss / gradient; absent in states written before it existed, read as 1. */
  readonly eot?: number;
}

/** One batch of the clean pass. */
export interface CleanBatchRecord {
  readonly correct: boolean[];
  readonly labels: number[];
}

/** One finished (attack, batch). */
export interface AttackBatchRecord {
  readonly robust: boolean[];
  /** sum over the batch's examples of mean |x_adv - x| x 255. */
  readonly l1Adv: number;
  readonly l1Purified?: number;
  /** Points of the batch the attack changed (x_adv != x), and the two L1 sums over those only (Fig. 2(b)). */
  readonly attacked?: number;
  readonly l1AdvAttacked?: number;
  readonly l1PurifiedAttacked?: number;
  /**
   * With a pre-processor: per example, mean |x_adv - x| x 255 and mean |clip01(P(x_adv)) - x| x 255
   * (0 where the attack left the point unchanged), so that Fig. 2(b)'s comparison can be tested per image.
   */
  readonly l1AdvPerExample?: number[];
  readonly l1PurifiedPerExample?: number[];
  /** AutoAttack: per stage, the number of this batch's points still robust after it. */
  readonly stageCorrect?: number[];
  readonly stageNames?: string[];
  readonly seconds: number;
  /** Images the attack pushed through the model (queries and gradient passes). */
  readonly forwarded?: number;
}

/** One shard of an evaluation (`evaluate`'s `shard` option): 0-based `index` of `count` contiguous blocks of batches. */
export interface ShardSpec {
  /** 0-based shard index. */
  readonly index: number;
  readonly count: number;
}

/** The resumable record of an evaluation (`evaluate`'s `statePath`): its key, shard, and per-batch outcomes. */
export interface EvaluationState {
  readonly format: typeof STATE_FORMAT;
  readonly version: number;
  readonly key: EvaluationKey;
  /** Which shard this state covers; absent: all batches. Not part of the key, so shards can be merged. */
  readonly shard?: ShardSpec;
  /** Whether the model gave different outputs for the same input (detected on the first clean batch). */
  randomized?: boolean;
  /** Batch index -> record. */
  readonly clean: Record<string, CleanBatchRecord>;
  /** Per attack (in key order): batch index -> record. */
  readonly attacks: Record<string, AttackBatchRecord>[];
  /** Free-form description the CLI keeps with its state (model, dataset, backend, ...). */
  meta?: Record<string, unknown>;
}

export function emptyState(key: EvaluationKey, shard?: ShardSpec): EvaluationState {
  return { format: STATE_FORMAT, version: STATE_VERSION, key, shard, clean: {}, attacks: key.attacks.map(() => ({})) };
}

export function writeState(file: string, state: EvaluationState): void {
  writeFileAtomicSync(file, `${JSON.stringify(state)}\n`);
}

/** Reads and checks the shape of a state file; `what` names it in errors (e.g. '--resume'). */
export function readState(file: string, what = 'state file'): EvaluationState {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${what} '${file}': not a readable JSON file (${(err as Error).message})`);
  }
  const s = parsed as Partial<EvaluationState>;
  if (s.format !== STATE_FORMAT || typeof s.key !== 'object' || s.key === null || typeof s.clean !== 'object' || !Array.isArray(s.attacks)) {
    throw new Error(`${what} '${file}': not a 'jatp eval' state file (expected "format": "${STATE_FORMAT}", "key", "clean", "attacks")`);
  }
  if (s.version !== STATE_VERSION) throw new Error(`${what} '${file}': state version ${String(s.version)}, this jatp reads version ${STATE_VERSION}`);
  if (s.attacks.length !== s.key.attacks.length) throw new Error(`${what} '${file}': ${s.attacks.length} attack records for ${s.key.attacks.length} attacks (damaged)`);
  return s as EvaluationState;
}

function show(v: unknown): string {
  return typeof v === 'string' ? `'${v}'` : JSON.stringify(v);
}

/**
 * What differs between two keys, as phrases like "seed (0 -> 1)" or "model ('a' -> 'b')"; empty when
 * they are equal.
 */
export function keyDifferences(stored: EvaluationKey, current: EvaluationKey): string[] {
  const out: string[] = [];
  const names = new Set([...Object.keys(stored.identity ?? {}), ...Object.keys(current.identity)]);
  for (const name of names) {
    const a = stored.identity?.[name];
    const b = current.identity[name];
    if (a !== b) out.push(`${name} (${a === undefined ? 'none' : show(a)} -> ${b === undefined ? 'none' : show(b)})`);
  }
  const fields: (keyof EvaluationKey)[] = ['data', 'n', 'batchSize', 'seed', 'eps', 'norm', 'attacks', 'repeat', 'eot'];
  const label: Partial<Record<keyof EvaluationKey, string>> = { data: 'data (test images/labels)', batchSize: 'batch size', attacks: 'attack settings', eot: 'eot (EOT draws)' };
  // A key written before a field existed holds that field's default.
  const fallback: Partial<Record<keyof EvaluationKey, unknown>> = { eot: 1 };
  for (const f of fields) {
    const a = stored[f] ?? fallback[f];
    const b = current[f] ?? fallback[f];
    if (JSON.stringify(a) !== JSON.stringify(b)) out.push(`${label[f] ?? f} (${show(a)} -> ${show(b)})`);
  }
  return out;
}

/** Throws unless `stored` belongs to the evaluation described by `key` (and the same shard). */
export function checkStateMatches(file: string, stored: EvaluationState, key: EvaluationKey, shard?: ShardSpec): void {
  const diffs = keyDifferences(stored.key, key);
  const shardText = (s?: ShardSpec): string => (s ? `${s.index + 1}/${s.count}` : 'none');
  if (shardText(stored.shard) !== shardText(shard)) diffs.push(`shard (${shardText(stored.shard)} -> ${shardText(shard)})`);
  if (diffs.length > 0) {
    throw new Error(
      `state file '${file}' belongs to a different evaluation; changed: ${diffs.join('; ')}. ` +
        'Delete it (or choose another --json path) to start afresh.',
    );
  }
}

/** Contiguous block of batch indices that shard `index` of `count` evaluates (all when no shard). */
export function shardBatches(batchCount: number, shard?: ShardSpec): number[] {
  const from = shard ? Math.floor((shard.index * batchCount) / shard.count) : 0;
  const to = shard ? Math.floor(((shard.index + 1) * batchCount) / shard.count) : batchCount;
  return Array.from({ length: to - from }, (_, i) => from + i);
}

/** Parses '2/4' (1-based, as written on the command line) into { index: 1, count: 4 }. */
export function parseShard(text: string, flag = '--shard'): ShardSpec {
  const m = /^\s*([0-9]+)\s*\/\s*([0-9]+)\s*$/.exec(text);
  if (!m) throw new Error(`${flag}: '${text}' is not of the form i/n (e.g. 1/4: the first of four shards)`);
  const i = Number(m[1]);
  const n = Number(m[2]);
  if (n < 1 || i < 1 || i > n) throw new Error(`${flag}: '${text}' needs 1 <= i <= n (shards are numbered from 1)`);
  return { index: i - 1, count: n };
}
