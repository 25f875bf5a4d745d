/**
 * THE training loop, shared by every recipe (target models: natural, Standard AT, TRADES, MART,
 * MMA; defenses: JATP, APE-G, HGD, NRP). A recipe says what one step does (`Recipe.step`); this
 * file does the rest once: epochs, data order and augmentation, per-group optimizers and learning
 * rate schedules, checkpoint/resume, metrics, best/last weights, progress and Ctrl-C.
 *
 * Public API (stable; other modules build on it):
 *
 *   runTraining(recipe: Recipe, opts: TrainingRunOptions): Promise<RunSummary>
 *   piecewiseSchedule(milestones): LrSchedule         // spec §3.2 "lr x0.1 at epoch 75, x0.01 at 90"
 *   readRunConfig(outDir): RunConfigFile                // what config.json of a run folder holds
 *   latestCheckpoint(outDir): string | undefined
 *
 * Run folder (`opts.outDir`):
 *   config.json      { recipe, loop: {epochs, batchSize, seed, optimizers, ...}, config: opts.config }
 *   metrics.jsonl    one JSON object per line: {type:'step', ...} every `logEverySteps` steps (means
 *                    since the previous line), {type:'epoch', epoch, train:{..}, eval:{..}, lr} per epoch,
 *                    {type:'resume', ...} when a run is continued
 *   checkpoints/     step-<globalStep>.safetensors: every tensor of `recipe.stateTensors()` ('state/<name>'),
 *                    every optimizer slot ('opt/<group>/<varIndex>/<slot>'), and in the metadata the
 *                    position (epoch, step in epoch, global step), the seed (= the whole RNG state,
 *                    see rng.ts), optimizer step counts and the epoch's running metric sums. The newest
 *                    two are kept; a damaged newest one is reported and the previous one is used.
 *   last/, best/     network weights after the latest epoch / at the best `bestMetric` so far, written
 *                    by `opts.saveWeights` (default: every state tensor in `state.safetensors`).
 *
 * Determinism: all randomness is derived from (seed, epoch, step) (rng.ts) and recipes must draw only
 * from the `seed` argument of `step`, so on the CPU backend a run killed at any point and resumed
 * ends with bitwise the same weights as an uninterrupted run.
 *
 * Epochs are numbered from 1 in everything a human sees (metrics, schedules, progress), as in the
 * reference repos' `adjust_learning_rate(optimizer, epoch)` (spec A8); checkpoints store 0-based
 * counters internally.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { Split } from '../data/types.js';
import type { Recipe } from './types.js';
import { BatchIterator, splitImageShape, type Augment } from '../data/pipeline.js';
import { firstPerClass } from '../data/subset.js';
import { readSafetensors, writeFileAtomic, writeSafetensors, type HostTensor } from './checkpoint-io.js';
import { createOptimizer, type OptimizerSpec, type SgdMomentum, type Adam } from './optim.js';
import { silentProgress, stderrProgress, type ProgressSink } from './progress.js';
import { deriveSeed, SEED_PURPOSE } from './rng.js';
import { ddpAnyRank, ddpCleanup, ddpFinish, ddpIsWriter, ddpOutDir, ddpProgress, ddpRecipe, ddpSyncStart } from './distributed.js'; // [distributed]

export type { OptimizerSpec } from './optim.js';
export type { Augment } from '../data/pipeline.js';
export type { ProgressSink, StepProgress } from './progress.js';

/** Learning-rate multiplier for `group` during `epoch` (1-based). */
export type LrSchedule = (epoch: number, group: string) => number;

export interface TrainingData {
  train: Split;
  /** [height, width, channels]; default: the split's own `imageShape`. */
  imageShape?: readonly [number, number, number];
  /** 'crop-flip' = spec §1 (pad, random crop, random flip); default 'none'. */
  augment?: Augment;
  /** Zero padding of the random crop, px (default: the data pipeline's, 4). */
  padding?: number;
  /** Use only the first `perClass` training examples of each class (CPU presets). Default: all. */
  perClass?: number;
  /** Drop the last partial batch of each epoch. Default false. */
  dropLast?: boolean;
}

export interface TrainingRunOptions {
  /** Run folder; created if needed. */
  outDir: string;
  /** JSON-able description of the run (what the CLI needs to rebuild it on --resume); stored in config.json. */
  config?: unknown;
  epochs: number;
  batchSize: number;
  /** One optimizer spec per variable group of the recipe (same keys as `recipe.variableGroups()`). */
  optimizers: Record<string, OptimizerSpec>;
  /** Default: constant 1. */
  lrSchedule?: LrSchedule;
  seed: number;
  data: TrainingData;
  /** Called after each epoch with the 1-based epoch; e.g. clean and PGD accuracy on a test subset. */
  evaluate?: (epoch: number) => Record<string, number> | Promise<Record<string, number>>;
  /** Key of `evaluate`'s result to maximise for best/ weights. Default: none (best/ not written). */
  bestMetric?: string;
  /** Continue from the newest readable checkpoint in outDir (fresh start when there is none). */
  resume?: boolean;
  /** Also checkpoint every N steps inside an epoch (0 = only at epoch ends). Default 0. */
  checkpointEverySteps?: number;
  /** Write a 'step' line to metrics.jsonl every N steps. Default 50. */
  logEverySteps?: number;
  /** Default: `stderrProgress()` (a bar on a TTY, plain lines otherwise). */
  progress?: ProgressSink;
  /** Install a SIGINT handler that checkpoints and stops after the current step. Default true. */
  handleSigint?: boolean;
  /** Stop (after checkpointing) once this many global steps are done, as if interrupted. For tests and time-boxed runs. */
  stopAfterSteps?: number;
  /** Writes network weights into a folder (last/, best/). Default: all state tensors in state.safetensors. */
  saveWeights?: (dir: string) => void | Promise<void>;
  /** Called after every step with the global step count (monitoring, tests). */
  afterStep?: (globalStep: number) => void | Promise<void>;
}

export interface RunSummary {
  outDir: string;
  /** Completed epochs. */
  epochsCompleted: number;
  globalStep: number;
  /** Stopped by SIGINT or `stopAfterSteps` before the last epoch finished (a checkpoint was written). */
  interrupted: boolean;
  /** The checkpoint the run continued from, if any. */
  resumedFrom?: string;
  /** Checkpoints that could not be read on resume, with the reason. */
  skippedCheckpoints: Array<{ file: string; reason: string }>;
  /** Train means and eval metrics of the last completed epoch. */
  lastEpoch?: { epoch: number; train: Record<string, number>; eval: Record<string, number> };
  best?: { metric: string; value: number; epoch: number };
  wallSeconds: number;
}

export interface RunConfigFile {
  recipe: string;
  loop: {
    epochs: number;
    batchSize: number;
    seed: number;
    optimizers: Record<string, OptimizerSpec>;
    perClass?: number;
    augment: Augment;
    padding?: number;
    dropLast: boolean;
    checkpointEverySteps: number;
  };
  config: unknown;
  createdAt: string;
}

/** Piecewise-constant multiplier: `[[75, 0.1], [90, 0.01]]` = x0.1 from epoch 75, x0.01 from 90 (1-based). */
export function piecewiseSchedule(milestones: ReadonlyArray<readonly [number, number]>): LrSchedule {
  const sorted = [...milestones].sort((a, b) => a[0] - b[0]);
  return (epoch) => {
    let m = 1;
    for (const [from, factor] of sorted) if (epoch >= from) m = factor;
    return m;
  };
}

export function readRunConfig(outDir: string): RunConfigFile {
  const file = path.join(outDir, 'config.json');
  if (!fs.existsSync(file)) throw new Error(`${file}: not found (is ${outDir} a training run folder?)`);
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as RunConfigFile;
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${(err as Error).message})`);
  }
}

const CKPT_DIR = 'checkpoints';
const CKPT_RE = /^step-(\d+)\.safetensors$/;
const KEEP_CHECKPOINTS = 2;

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

export function latestCheckpoint(outDir: string): string | undefined {
  return listCheckpoints(outDir)[0];
}

/** What a checkpoint's metadata records besides tensors. */
interface CheckpointMeta {
  version: 1;
  recipe: string;
  /** 0-based epoch to run next / currently running. */
  epoch: number;
  /** Steps of `epoch` already done. */
  stepInEpoch: number;
  globalStep: number;
  seed: number;
  batchSize: number;
  stepsPerEpoch: number;
  optimizerSteps: Record<string, number>;
  epochAccum: { sums: Record<string, number>; steps: number; images: number };
  best: { metric: string; value: number; epoch: number } | null;
}

type LoopOptimizer = SgdMomentum | Adam;

function toHost(v: tf.Tensor): HostTensor {
  const shape = [...v.shape];
  if (v.dtype === 'int32') return { dtype: 'I32', shape, data: v.dataSync() as Int32Array };
  if (v.dtype === 'float32') return { dtype: 'F32', shape, data: v.dataSync() as Float32Array };
  throw new Error(`checkpoint: cannot store dtype ${v.dtype}`);
}

function assignHost(target: tf.Variable, t: HostTensor, name: string, file: string): void {
  const wantDtype = target.dtype === 'int32' ? 'I32' : 'F32';
  if (t.dtype !== wantDtype || t.shape.length !== target.shape.length || t.shape.some((d, i) => d !== target.shape[i])) {
    throw new Error(`${file}: tensor '${name}' is ${t.dtype}[${t.shape}] but the run expects ${wantDtype}[${target.shape}] (different model or options?)`);
  }
  tf.tidy(() => target.assign(tf.tensor(t.data, t.shape, target.dtype)));
}

function appendJsonl(file: string, obj: unknown): void {
  fs.appendFileSync(file, `${JSON.stringify(obj)}\n`);
}

/** Default weight writer for last/ and best/: every state tensor of the recipe. */
function defaultSaveWeights(recipe: Recipe): (dir: string) => void {
  return (dir) => {
    const tensors = new Map<string, HostTensor>();
    for (const [name, v] of recipe.stateTensors()) tensors.set(name, toHost(v));
    writeSafetensors(path.join(dir, 'state.safetensors'), tensors, { recipe: recipe.name, format: 'jatp-state' });
  };
}

/** Replace `dir` with what `write` produces, via a temp folder, so a crash never leaves a half-written dir. */
async function replaceDir(dir: string, write: (d: string) => void | Promise<void>): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  await write(tmp);
  const old = `${dir}.old-${process.pid}`;
  if (fs.existsSync(dir)) fs.renameSync(dir, old);
  fs.renameSync(tmp, dir);
  fs.rmSync(old, { recursive: true, force: true });
}

function validateOptions(recipe: Recipe, opts: TrainingRunOptions): void {
  const posInt = (v: number | undefined, name: string, allowZero = false): void => {
    if (v === undefined) return;
    if (!Number.isInteger(v) || v < (allowZero ? 0 : 1)) throw new Error(`training option ${name}: expected a ${allowZero ? 'non-negative' : 'positive'} integer, got ${v}`);
  };
  posInt(opts.epochs, 'epochs');
  posInt(opts.batchSize, 'batchSize');
  posInt(opts.checkpointEverySteps, 'checkpointEverySteps', true);
  posInt(opts.logEverySteps, 'logEverySteps');
  posInt(opts.stopAfterSteps, 'stopAfterSteps', true);
  if (!Number.isInteger(opts.seed) || opts.seed < 0) throw new Error(`training option seed: expected a non-negative integer, got ${opts.seed}`);
  const groups = Object.keys(recipe.variableGroups()).sort();
  const specs = Object.keys(opts.optimizers).sort();
  if (groups.join(',') !== specs.join(',')) {
    throw new Error(`training options: optimizers given for [${specs}] but recipe '${recipe.name}' has variable groups [${groups}]`);
  }
}

export async function runTraining(recipe: Recipe, opts: TrainingRunOptions): Promise<RunSummary> {
  const t0 = Date.now();
  validateOptions(recipe, opts);
  recipe = ddpRecipe(recipe); // [distributed] shard each batch, average gradients over ranks
  const progress = ddpProgress(opts.progress ?? stderrProgress()); // [distributed] rank 0 reports
  const outDir = ddpOutDir(opts.outDir); // [distributed] ranks > 0 write to a scratch folder
  const ckptEvery = opts.checkpointEverySteps ?? 0;
  const logEvery = opts.logEverySteps ?? 50;
  const schedule = opts.lrSchedule ?? (() => 1);
  const augment: Augment = opts.data.augment ?? 'none';
  const dropLast = opts.data.dropLast ?? false;
  const metricsFile = path.join(outDir, 'metrics.jsonl');
  const configFile = path.join(outDir, 'config.json');

  fs.mkdirSync(outDir, { recursive: true });
  const existing = listCheckpoints(outDir);
  if (!opts.resume && (existing.length > 0 || fs.existsSync(metricsFile))) {
    throw new Error(`${outDir}: already holds a training run; resume it (--resume ${outDir}) or choose another --out`);
  }

  // Data: a deterministic subset; order and augmentation are a function of (seed, epoch, batch) in
  // the data pipeline, so an epoch can be entered at any batch on resume.
  const split = opts.data.perClass !== undefined ? firstPerClass(opts.data.train, opts.data.perClass) : opts.data.train;
  const imageShape = splitImageShape(split, opts.data.imageShape);
  const epochBatches = (epoch: number, startBatch: number): BatchIterator =>
    new BatchIterator(split, {
      batchSize: opts.batchSize,
      seed: opts.seed,
      epoch,
      startBatch,
      augment,
      dropLast,
      imageShape,
      ...(opts.data.padding !== undefined ? { padding: opts.data.padding } : {}),
    });
  const stepsPerEpoch = epochBatches(0, 0).numBatches;
  if (stepsPerEpoch === 0) throw new Error(`training data: ${split.count} examples give no batch of ${opts.batchSize} (dropLast)`);

  // Optimizers, one per variable group.
  const groups = recipe.variableGroups();
  const optimizers: Record<string, LoopOptimizer> = {};
  for (const [g, vars] of Object.entries(groups)) optimizers[g] = createOptimizer(opts.optimizers[g]!, vars);

  const state = recipe.stateTensors();
  let epoch = 0;
  let stepInEpoch = 0;
  let globalStep = 0;
  let accum: CheckpointMeta['epochAccum'] = { sums: {}, steps: 0, images: 0 };
  let best: CheckpointMeta['best'] = null;
  const skipped: RunSummary['skippedCheckpoints'] = [];
  let resumedFrom: string | undefined;

  const checkpointTensors = (): Map<string, HostTensor> => {
    const m = new Map<string, HostTensor>();
    for (const [name, v] of state) m.set(`state/${name}`, toHost(v));
    for (const [g, o] of Object.entries(optimizers)) for (const [k, v] of o.slots()) m.set(`opt/${g}/${k}`, toHost(v));
    return m;
  };

  const loadCheckpoint = (file: string): CheckpointMeta => {
    const { tensors, metadata } = readSafetensors(file);
    const metaJson = metadata['jatp_checkpoint'];
    if (metaJson === undefined) throw new Error(`${file}: no 'jatp_checkpoint' metadata (not a training checkpoint)`);
    const meta = JSON.parse(metaJson) as CheckpointMeta;
    if (meta.recipe !== recipe.name) throw new Error(`${file}: written by recipe '${meta.recipe}', this run is '${recipe.name}'`);
    if (meta.seed !== opts.seed || meta.batchSize !== opts.batchSize || meta.stepsPerEpoch !== stepsPerEpoch) {
      throw new Error(
        `${file}: seed/batch size/steps per epoch ${meta.seed}/${meta.batchSize}/${meta.stepsPerEpoch} differ from this run's ${opts.seed}/${opts.batchSize}/${stepsPerEpoch}; an exact resume needs the same`,
      );
    }
    // Validate everything before assigning anything, so a bad file leaves the model untouched.
    const targets: Array<[tf.Variable, HostTensor, string]> = [];
    const want = new Map<string, tf.Variable>();
    for (const [name, v] of state) want.set(`state/${name}`, v);
    for (const [g, o] of Object.entries(optimizers)) for (const [k, v] of o.slots()) want.set(`opt/${g}/${k}`, v);
    for (const [key, v] of want) {
      const t = tensors.get(key);
      if (!t) throw new Error(`${file}: missing tensor '${key}'`);
      const wantDtype = v.dtype === 'int32' ? 'I32' : 'F32';
      if (t.dtype !== wantDtype || t.shape.join(',') !== v.shape.join(',')) {
        throw new Error(`${file}: tensor '${key}' is ${t.dtype}[${t.shape}] but the run expects ${wantDtype}[${v.shape}] (different model or options?)`);
      }
      targets.push([v, t, key]);
    }
    for (const [v, t, key] of targets) assignHost(v, t, key, file);
    for (const [g, o] of Object.entries(optimizers)) o.restoreStepCount(meta.optimizerSteps[g] ?? 0);
    return meta;
  };

  const saveCheckpoint = (): string => {
    const meta: CheckpointMeta = {
      version: 1,
      recipe: recipe.name,
      epoch,
      stepInEpoch,
      globalStep,
      seed: opts.seed,
      batchSize: opts.batchSize,
      stepsPerEpoch,
      optimizerSteps: Object.fromEntries(Object.entries(optimizers).map(([g, o]) => [g, o.stepCount])),
      epochAccum: accum,
      best,
    };
    const file = path.join(outDir, CKPT_DIR, `step-${String(globalStep).padStart(9, '0')}.safetensors`);
    writeSafetensors(file, checkpointTensors(), { jatp_checkpoint: JSON.stringify(meta) });
    // Keep the newest two: if the newest is later found damaged, the previous one is still there.
    for (const old of listCheckpoints(outDir).slice(KEEP_CHECKPOINTS)) fs.rmSync(old, { force: true });
    return file;
  };

  if (opts.resume && existing.length > 0) {
    for (const file of existing) {
      try {
        const meta = loadCheckpoint(file);
        epoch = meta.epoch;
        stepInEpoch = meta.stepInEpoch;
        globalStep = meta.globalStep;
        accum = meta.epochAccum;
        best = meta.best;
        resumedFrom = file;
        break;
      } catch (err) {
        const reason = (err as Error).message;
        skipped.push({ file, reason });
        progress.message(`warning: cannot use checkpoint ${file}: ${reason}; trying the previous one`);
      }
    }
    if (resumedFrom === undefined) {
      throw new Error(`${outDir}: no usable checkpoint (${skipped.map((s) => s.reason).join('; ')})`);
    }
    // Drop metric lines written after the checkpoint (the resumed run writes them again).
    if (fs.existsSync(metricsFile)) {
      const kept = fs
        .readFileSync(metricsFile, 'utf8')
        .split('\n')
        .filter((l) => l.trim() !== '')
        .filter((l) => {
          try {
            const o = JSON.parse(l) as { type?: string; globalStep?: number; epoch?: number };
            if (o.type === 'step') return (o.globalStep ?? 0) <= globalStep;
            if (o.type === 'epoch') return (o.epoch ?? 0) <= epoch;
            return true;
          } catch {
            return false; // a line cut by the kill
          }
        });
      writeFileAtomic(metricsFile, kept.map((l) => `${l}\n`).join(''));
    }
    // Keep config.json in step with the continued run (e.g. --epochs extended on resume).
    if (fs.existsSync(configFile)) {
      const stored = readRunConfig(outDir);
      if (stored.loop.epochs !== opts.epochs || JSON.stringify(stored.config) !== JSON.stringify(opts.config ?? null)) {
        const updated: RunConfigFile = { ...stored, loop: { ...stored.loop, epochs: opts.epochs }, config: opts.config ?? null };
        writeFileAtomic(configFile, `${JSON.stringify(updated, null, 2)}\n`);
      }
    }
    appendJsonl(metricsFile, { type: 'resume', globalStep, epoch: epoch + 1, stepInEpoch, checkpoint: path.basename(resumedFrom), time: new Date().toISOString() });
    progress.message(`resuming ${recipe.name} from ${resumedFrom} (epoch ${epoch + 1}, step ${stepInEpoch}/${stepsPerEpoch})`);
  } else {
    if (opts.resume) progress.message(`no checkpoint in ${outDir}; starting a fresh run`);
    const cfg: RunConfigFile = {
      recipe: recipe.name,
      loop: {
        epochs: opts.epochs,
        batchSize: opts.batchSize,
        seed: opts.seed,
        optimizers: opts.optimizers,
        ...(opts.data.perClass !== undefined ? { perClass: opts.data.perClass } : {}),
        augment,
        ...(opts.data.padding !== undefined ? { padding: opts.data.padding } : {}),
        dropLast,
        checkpointEverySteps: ckptEvery,
      },
      config: opts.config ?? null,
      createdAt: new Date().toISOString(),
    };
    writeFileAtomic(configFile, `${JSON.stringify(cfg, null, 2)}\n`);
  }

  ({ epoch, stepInEpoch, globalStep, accum, best } = ddpSyncStart({ epoch, stepInEpoch, globalStep, accum, best }, state.values(), optimizers)); // [distributed] rank 0's state everywhere

  // Ctrl-C: finish the current step, checkpoint, return `interrupted`; a second Ctrl-C exits at once.
  let stopRequested = false;
  const onSigint = (): void => {
    if (stopRequested) process.exit(130);
    stopRequested = true;
    progress.message('interrupt: writing a checkpoint after this step (Ctrl-C again to quit without it)');
  };
  if (opts.handleSigint ?? true) process.on('SIGINT', onSigint);

  const saveWeights = opts.saveWeights ?? defaultSaveWeights(recipe);
  let lastEpoch: RunSummary['lastEpoch'];
  let interrupted = false;
  let windowSums: Record<string, number> = {};
  let windowSteps = 0;

  try {
    while (epoch < opts.epochs) {
      const epoch1 = epoch + 1;
      const lrs: Record<string, number> = {};
      for (const [g, o] of Object.entries(optimizers)) {
        o.learningRate = o.baseLr * schedule(epoch1, g);
        lrs[g] = o.learningRate;
      }
      const epochStart = Date.now();
      const firstStep = stepInEpoch;
      let imagesThisSession = 0;
      const iterator = epochBatches(epoch, stepInEpoch);
      for (const plain of iterator) {
        const batch = { ...plain, indices: iterator.batchIndices(stepInEpoch) };
        const n = batch.x.shape[0];
        let m: Record<string, number>;
        try {
          m = recipe.step(batch, optimizers as Record<string, tf.Optimizer>, deriveSeed(opts.seed, SEED_PURPOSE.recipeStep, epoch, stepInEpoch));
        } finally {
          batch.x.dispose();
          batch.y.dispose();
        }
        stepInEpoch++;
        globalStep++;
        imagesThisSession += n;
        accum.steps++;
        accum.images += n;
        windowSteps++;
        for (const [k, v] of Object.entries(m)) {
          accum.sums[k] = (accum.sums[k] ?? 0) + v;
          windowSums[k] = (windowSums[k] ?? 0) + v;
        }
        const elapsed = (Date.now() - epochStart) / 1000;
        const done = stepInEpoch - firstStep;
        const means = Object.fromEntries(Object.entries(accum.sums).map(([k, v]) => [k, v / accum.steps]));
        progress.step({
          epoch: epoch1,
          epochs: opts.epochs,
          step: stepInEpoch,
          stepsPerEpoch,
          imagesPerSecond: elapsed > 0 ? imagesThisSession / elapsed : 0,
          metrics: means,
          etaSeconds: (elapsed / done) * (stepsPerEpoch - stepInEpoch),
        });
        if (globalStep % logEvery === 0) {
          appendJsonl(metricsFile, {
            type: 'step',
            epoch: epoch1,
            step: stepInEpoch,
            globalStep,
            lr: lrs,
            ...Object.fromEntries(Object.entries(windowSums).map(([k, v]) => [k, v / windowSteps])),
            imagesPerSecond: elapsed > 0 ? imagesThisSession / elapsed : 0,
          });
          windowSums = {};
          windowSteps = 0;
        }
        if (opts.afterStep) await opts.afterStep(globalStep);
        // Yield to the event loop so a pending SIGINT handler can run.
        await new Promise<void>((r) => setImmediate(r));
        const lastOfEpoch = stepInEpoch === stepsPerEpoch;
        const stopNow = ddpAnyRank(stopRequested || (opts.stopAfterSteps !== undefined && globalStep >= opts.stopAfterSteps)); // [distributed] all ranks stop together
        if (!lastOfEpoch && (stopNow || (ckptEvery > 0 && globalStep % ckptEvery === 0))) saveCheckpoint();
        if (stopNow && !lastOfEpoch) {
          interrupted = true;
          break;
        }
      }
      if (interrupted) break;

      // End of epoch: evaluate, record, write weights, then checkpoint at the epoch boundary.
      const train = Object.fromEntries(Object.entries(accum.sums).map(([k, v]) => [k, v / Math.max(1, accum.steps)]));
      const evalMetrics = opts.evaluate && ddpIsWriter() ? await opts.evaluate(epoch1) : {}; // [distributed] rank 0 evaluates
      const seconds = (Date.now() - epochStart) / 1000;
      appendJsonl(metricsFile, { type: 'epoch', epoch: epoch1, globalStep, seconds, lr: lrs, train, eval: evalMetrics, time: new Date().toISOString() });
      progress.epochEnd(epoch1, opts.epochs, { ...train, ...evalMetrics }, seconds);
      lastEpoch = { epoch: epoch1, train, eval: evalMetrics };
      await replaceDir(path.join(outDir, 'last'), saveWeights);
      if (opts.bestMetric !== undefined) {
        const v = evalMetrics[opts.bestMetric];
        if (v === undefined) {
          progress.message(`warning: evaluate() returned no '${opts.bestMetric}'; best/ not updated`);
        } else if (best === null || v > best.value) {
          best = { metric: opts.bestMetric, value: v, epoch: epoch1 };
          await replaceDir(path.join(outDir, 'best'), saveWeights);
        }
      }
      epoch++;
      stepInEpoch = 0;
      accum = { sums: {}, steps: 0, images: 0 };
      saveCheckpoint();
      if (epoch < opts.epochs && ddpAnyRank(stopRequested || (opts.stopAfterSteps !== undefined && globalStep >= opts.stopAfterSteps))) { // [distributed]
        interrupted = true;
        break;
      }
    }
  } finally {
    if (opts.handleSigint ?? true) process.off('SIGINT', onSigint);
    for (const o of Object.values(optimizers)) o.dispose();
    ddpCleanup(); // [distributed]
  }
  ddpFinish(); // [distributed] every rank reaches the end before rank 0's store goes away
  if (interrupted) progress.message(`stopped at epoch ${epoch + 1}, step ${stepInEpoch}/${stepsPerEpoch}; continue with --resume ${outDir}`);

  return {
    outDir,
    epochsCompleted: epoch,
    globalStep,
    interrupted,
    ...(resumedFrom !== undefined ? { resumedFrom } : {}),
    skippedCheckpoints: skipped,
    ...(lastEpoch !== undefined ? { lastEpoch } : {}),
    ...(best !== null ? { best } : {}),
    wallSeconds: (Date.now() - t0) / 1000,
  };
}

export { silentProgress, stderrProgress };
