/**
 * Training checkpoints: `checkpoints/step-<globalStep>.safetensors` in a run folder. One file holds
 * everything an exact resume needs (`TrainingState`):
 *
 *   tensors   'state/<name>' for every tensor of `recipe.stateTensors()`, and
 *             'opt/<group>/<varIndex>/<slot>' for every optimizer slot;
 *   metadata  'jatp_checkpoint': the position (0-based epoch, step in epoch, global step), the seed
 *             (= the whole RNG state, see step-seeds.ts), optimizer step counts, the running metric sums of
 *             the epoch and of the current metrics.jsonl window, and the best result so far.
 *
 * The newest two are kept: a damaged newest one is reported and the previous one is used
 * (io/checkpoint-file.ts checksums the tensor data).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { readCheckpointFile, writeCheckpointFile, type HostTensor } from '../io/checkpoint-file.js';
import type { InspectableOptimizer } from './optim.js';

const CKPT_DIR = 'checkpoints';
const CKPT_RE = /^step-(\d+)\.safetensors$/;
const KEEP_CHECKPOINTS = 2;

/** Running means of some metrics: sums over `steps` steps (and `images` images). */
export interface MetricSums {
  sums: Record<string, number>;
  steps: number;
  images: number;
}

export interface BestResult {
  metric: string;
  value: number;
  epoch: number;
}

/** Where a run is and what it has accumulated, besides tensors. */
export interface TrainingState {
  /** 0-based epoch to run next / currently running. */
  epoch: number;
  /** Steps of `epoch` already done. */
  stepInEpoch: number;
  globalStep: number;
  /** Metric sums of the current epoch (its train means). */
  epochAccum: MetricSums;
  /** Metric sums since the last 'step' record of metrics.jsonl (so a resumed run logs the same means). */
  logWindow: MetricSums;
  best: BestResult | null;
}

export function freshTrainingState(): TrainingState {
  return { epoch: 0, stepInEpoch: 0, globalStep: 0, epochAccum: emptySums(), logWindow: emptySums(), best: null };
}

export function emptySums(): MetricSums {
  return { sums: {}, steps: 0, images: 0 };
}

/** What identifies the run a checkpoint belongs to: a resume needs all of it to be the same. */
export interface CheckpointIdentity {
  recipe: string;
  seed: number;
  batchSize: number;
  stepsPerEpoch: number;
}

interface CheckpointMeta extends CheckpointIdentity, Omit<TrainingState, 'logWindow'> {
  version: 1;
  optimizerSteps: Record<string, number>;
  /** Absent in checkpoints written before it was recorded: the window then restarts empty. */
  logWindow?: MetricSums;
}

/** The variables a checkpoint holds, by checkpoint key, and the optimizers whose step counts it holds. */
export interface CheckpointedTensors {
  readonly state: ReadonlyMap<string, tf.Variable>;
  readonly optimizers: Readonly<Record<string, InspectableOptimizer>>;
}

function variablesByKey(t: CheckpointedTensors): Map<string, tf.Variable> {
  const m = new Map<string, tf.Variable>();
  for (const [name, v] of t.state) m.set(`state/${name}`, v);
  for (const [g, o] of Object.entries(t.optimizers)) for (const [k, v] of o.slots()) m.set(`opt/${g}/${k}`, v);
  return m;
}

export function toHost(v: tf.Tensor): HostTensor {
  const shape = [...v.shape];
  if (v.dtype === 'int32') return { dtype: 'I32', shape, data: v.dataSync() as Int32Array };
  if (v.dtype === 'float32') return { dtype: 'F32', shape, data: v.dataSync() as Float32Array };
  throw new Error(`checkpoint: cannot store dtype ${v.dtype}`);
}

/** Checkpoint files of a run, newest first. */
export function listCheckpoints(outDir: string): string[] {
  const dir = path.join(outDir, CKPT_DIR);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .map((f) => CKPT_RE.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .sort((a, b) => Number(b[1]) - Number(a[1]))
    .map((m) => path.join(dir, m[0]));
}

/** The newest readable checkpoint of a run folder, or undefined. */
export function latestCheckpoint(outDir: string): string | undefined {
  return listCheckpoints(outDir)[0];
}

/** Writes the checkpoint of `state` and keeps only the newest two; returns its file. */
export function saveCheckpoint(outDir: string, id: CheckpointIdentity, state: TrainingState, tensors: CheckpointedTensors): string {
  const meta: CheckpointMeta = {
    version: 1,
    ...id,
    ...state,
    optimizerSteps: Object.fromEntries(Object.entries(tensors.optimizers).map(([g, o]) => [g, o.stepCount])),
  };
  const host = new Map<string, HostTensor>();
  for (const [key, v] of variablesByKey(tensors)) host.set(key, toHost(v));
  const file = path.join(outDir, CKPT_DIR, `step-${String(state.globalStep).padStart(9, '0')}.safetensors`);
  writeCheckpointFile(file, host, { jatp_checkpoint: JSON.stringify(meta) });
  // If the newest is later found damaged, the previous one is still there.
  for (const old of listCheckpoints(outDir).slice(KEEP_CHECKPOINTS)) fs.rmSync(old, { force: true });
  return file;
}

/** Throws unless `t` can be assigned to `v` as is (same dtype and shape). */
function checkAssignable(v: tf.Variable, t: HostTensor, key: string, file: string): void {
  const want = v.dtype === 'int32' ? 'I32' : 'F32';
  if (t.dtype !== want || t.shape.length !== v.shape.length || t.shape.some((d, i) => d !== v.shape[i])) {
    throw new Error(`${file}: tensor '${key}' is ${t.dtype}[${t.shape}] but the run expects ${want}[${v.shape}] (different model or options?)`);
  }
}

/**
 * Reads `file` into the variables and optimizers, returning the state it records. Everything is
 * checked before anything is assigned, so a file that does not fit leaves the model untouched.
 */
export function loadCheckpoint(file: string, id: CheckpointIdentity, tensors: CheckpointedTensors): TrainingState {
  const { tensors: stored, metadata } = readCheckpointFile(file);
  const metaJson = metadata['jatp_checkpoint'];
  if (metaJson === undefined) throw new Error(`${file}: no 'jatp_checkpoint' metadata (not a training checkpoint)`);
  const meta = JSON.parse(metaJson) as CheckpointMeta;
  if (meta.recipe !== id.recipe) throw new Error(`${file}: written by recipe '${meta.recipe}', this run is '${id.recipe}'`);
  if (meta.seed !== id.seed || meta.batchSize !== id.batchSize || meta.stepsPerEpoch !== id.stepsPerEpoch) {
    throw new Error(
      `${file}: seed/batch size/steps per epoch ${meta.seed}/${meta.batchSize}/${meta.stepsPerEpoch} differ from this run's ${id.seed}/${id.batchSize}/${id.stepsPerEpoch}; an exact resume needs the same`,
    );
  }
  const pairs: Array<[tf.Variable, HostTensor]> = [];
  for (const [key, v] of variablesByKey(tensors)) {
    const t = stored.get(key);
    if (!t) throw new Error(`${file}: missing tensor '${key}'`);
    checkAssignable(v, t, key, file);
    pairs.push([v, t]);
  }
  for (const [v, t] of pairs) tf.tidy(() => v.assign(tf.tensor(t.data, t.shape, v.dtype)));
  for (const [g, o] of Object.entries(tensors.optimizers)) o.restoreStepCount(meta.optimizerSteps[g] ?? 0);
  return {
    epoch: meta.epoch,
    stepInEpoch: meta.stepInEpoch,
    globalStep: meta.globalStep,
    epochAccum: meta.epochAccum,
    logWindow: meta.logWindow ?? emptySums(),
    best: meta.best,
  };
}

export interface ResumePoint {
  state: TrainingState;
  file: string;
}

/**
 * Loads the newest checkpoint that can be used, newest first; each one that cannot is reported
 * through `onSkip` and listed in `skipped`. Undefined when the run has no checkpoint at all.
 */
export function loadNewestCheckpoint(
  outDir: string,
  id: CheckpointIdentity,
  tensors: CheckpointedTensors,
  skipped: Array<{ file: string; reason: string }>,
  onSkip: (file: string, reason: string) => void,
): ResumePoint | undefined {
  const files = listCheckpoints(outDir);
  for (const file of files) {
    try {
      return { state: loadCheckpoint(file, id, tensors), file };
    } catch (err) {
      const reason = (err as Error).message;
      skipped.push({ file, reason });
      onSkip(file, reason);
    }
  }
  if (files.length > 0) throw new Error(`${outDir}: no usable checkpoint (${skipped.map((s) => s.reason).join('; ')})`);
  return undefined;
}
