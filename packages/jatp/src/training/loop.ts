/**
 * THE training loop, shared by every recipe (target models: natural, Standard AT, TRADES, MART,
 * MMA; defenses: JATP, APE-G, HGD, NRP). A recipe says what one step does (`Recipe.step`); this
 * file does the rest once: epochs, data order and augmentation, per-group optimizers and learning
 * rate schedules, checkpoint/resume, metrics, best/last weights, progress and Ctrl-C / SIGTERM.
 *
 * Public API (stable; other modules build on it):
 *
 *   runTraining(recipe: Recipe, opts: TrainingRunOptions): Promise<RunSummary>
 *   piecewiseSchedule(milestones): LrSchedule         // spec §3.2 "lr x0.1 at epoch 75, x0.01 at 90"
 *   readRunConfig(outDir): RunConfigFile                // what config.json of a run folder holds
 *   latestCheckpoint(outDir): string | undefined
 *   checkRunFolder(outDir, resume): void                // runTraining's folder checks, done early
 *
 * Run folder (`opts.outDir`):
 *   config.json      { recipe, loop: {epochs, batchSize, seed, optimizers, ...}, config: opts.config }
 *   metrics.jsonl    one JSON object per line: {type:'step', ...} every `logEverySteps` steps (means
 *                    since the previous line), {type:'epoch', epoch, train:{..}, eval:{..}, lr} per epoch,
 *                    {type:'resume', ...} when a run is continued
 *   run.lock         the process training in the folder (a second one is refused)   -> run-folder.ts
 *   checkpoints/     step-<globalStep>.safetensors, the newest two                     -> checkpoint.ts
 *   last/, best/     network weights after the latest epoch / at the best `bestMetric` so far, written
 *                    by `opts.saveWeights` (default: every state tensor in `state.safetensors`).
 *
 * Modules: run-folder.ts (config, metrics log, weights folders, lock), checkpoint.ts (TrainingState
 * save/load), stop-signal.ts (SIGINT/SIGTERM), epoch.ts (the steps of one epoch and its end).
 *
 * Determinism: all randomness is derived from (seed, epoch, step) (step-seeds.ts) and recipes must draw only
 * from the `seed` argument of `step`, so on the CPU backend a run killed at any point and resumed
 * ends with bitwise the same weights as an uninterrupted run.
 *
 * Epochs are numbered from 1 in everything a human sees (metrics, schedules, progress), as in the
 * reference repos' `adjust_learning_rate(optimizer, epoch)` (spec A8); checkpoints store 0-based
 * counters internally.
 */
import * as path from 'node:path';
import type { Split } from '../data/types.js';
import type { Recipe } from './types.js';
import { BatchIterator, splitImageShape, type Augment } from '../data/pipeline.js';
import { firstPerClass } from '../data/subset.js';
import { writeCheckpointFile, type HostTensor } from '../io/checkpoint-file.js';
import { freshTrainingState, listCheckpoints, loadNewestCheckpoint, toHost, type BestResult, type CheckpointIdentity, type CheckpointedTensors, type TrainingState } from './checkpoint.js';
import { finishEpoch, runEpochSteps, stopReason, type EpochContext, type EpochResult, type LrSchedule, type StopReason } from './epoch.js';
import { createOptimizer, type OptimizerSpec, type SgdMomentum, type Adam } from './optim.js';
import { silentProgress, stderrProgress, type ProgressSink } from './progress.js';
import { acquireRunLock, refuseIfLocked, RunFolder, type RunConfigFile } from './run-folder.js';
import { dataParallelInfo, ddpCleanup, ddpFinish, ddpIsWriter, ddpRecipe, ddpRunOptions, ddpSyncStart } from './data-parallel.js'; // [distributed]
import { StopSignal } from './stop-signal.js';

export type { OptimizerSpec } from './optim.js';
export type { Augment } from '../data/pipeline.js';
export type { ProgressSink, StepProgress } from './progress.js';
export type { LrSchedule, StopReason } from './epoch.js';
export type { RunConfigFile } from './run-folder.js';
export { readRunConfig } from './run-folder.js';
export { listCheckpoints, latestCheckpoint } from './checkpoint.js';

/** The training split and how the input pipeline treats it (augmentation default 'none', all examples). */
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

/** Options of `runTraining`: run folder, data, epochs, batch size, optimizers, schedule, checkpointing, resume. */
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
  /** Install SIGINT and SIGTERM handlers that checkpoint and stop after the current step. Default true. */
  handleSigint?: boolean;
  /** Stop (after checkpointing) once this many global steps are done, as if interrupted. For tests and time-boxed runs. */
  stopAfterSteps?: number;
  /** Writes network weights into a folder (last/, best/). Default: all state tensors in state.safetensors. */
  saveWeights?: (dir: string) => void | Promise<void>;
  /** Called after every step with the global step count (monitoring, tests). */
  afterStep?: (globalStep: number) => void | Promise<void>;
  /**
   * Asked before each epoch: true ends the run there as finished (not interrupted), before `epochs`
   * (e.g. a plateau rule on the training objective). Must depend only on the recorded epochs, so that a
   * resumed run decides the same.
   */
  converged?: () => boolean;
}

/** What `runTraining` returns: epochs and steps done, interruption, resume source, last metrics, best, time. */
export interface RunSummary {
  outDir: string;
  /** Completed epochs. */
  epochsCompleted: number;
  globalStep: number;
  /** Stopped by SIGINT, SIGTERM or `stopAfterSteps` before the last epoch finished (a checkpoint was written). */
  interrupted: boolean;
  /** What stopped an interrupted run. */
  stoppedBy?: StopReason;
  /** Resumed a run that had already done all its epochs: nothing was trained. */
  alreadyFinished?: boolean;
  /** The checkpoint the run continued from, if any. */
  resumedFrom?: string;
  /** Checkpoints that could not be read on resume, with the reason. */
  skippedCheckpoints: Array<{ file: string; reason: string }>;
  /** `converged` ended the run before `epochs`. */
  converged?: boolean;
  /** Train means and eval metrics of the last completed epoch. */
  lastEpoch?: { epoch: number; train: Record<string, number>; eval: Record<string, number> };
  best?: BestResult;
  wallSeconds: number;
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


type LoopOptimizer = SgdMomentum | Adam;

/** Default weight writer for last/ and best/: every state tensor of the recipe. */
function defaultSaveWeights(recipe: Recipe): (dir: string) => void {
  return (dir) => {
    const tensors = new Map<string, HostTensor>();
    for (const [name, v] of recipe.stateTensors()) tensors.set(name, toHost(v));
    writeCheckpointFile(path.join(dir, 'state.safetensors'), tensors, { recipe: recipe.name, format: 'jatp-state' });
  };
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

/**
 * The epoch's batches: a deterministic subset, order and augmentation a function of (seed, epoch,
 * batch) in the data pipeline, so an epoch can be entered at any batch on resume. (A sharded
 * distributed run changes what this returns, nothing else.)
 */
function batchSource(opts: TrainingRunOptions): { batches: EpochContext['batches']; stepsPerEpoch: number } {
  const split = opts.data.perClass !== undefined ? firstPerClass(opts.data.train, opts.data.perClass) : opts.data.train;
  const imageShape = splitImageShape(split, opts.data.imageShape);
  const batches = (epoch: number, startBatch: number): BatchIterator =>
    new BatchIterator(split, {
      batchSize: opts.batchSize,
      seed: opts.seed,
      epoch,
      startBatch,
      augment: opts.data.augment ?? 'none',
      dropLast: opts.data.dropLast ?? false,
      imageShape,
      ...(opts.data.padding !== undefined ? { padding: opts.data.padding } : {}),
    });
  const stepsPerEpoch = batches(0, 0).numBatches;
  if (stepsPerEpoch === 0) throw new Error(`training data: ${split.count} examples give no batch of ${opts.batchSize} (dropLast)`);
  return { batches, stepsPerEpoch };
}

function freshConfig(recipe: Recipe, opts: TrainingRunOptions): RunConfigFile {
  return {
    recipe: recipe.name,
    loop: {
      epochs: opts.epochs,
      batchSize: opts.batchSize,
      seed: opts.seed,
      optimizers: opts.optimizers,
      ...(opts.data.perClass !== undefined ? { perClass: opts.data.perClass } : {}),
      augment: opts.data.augment ?? 'none',
      ...(opts.data.padding !== undefined ? { padding: opts.data.padding } : {}),
      dropLast: opts.data.dropLast ?? false,
      checkpointEverySteps: opts.checkpointEverySteps ?? 0,
      // Two runs that differ only in data parallelism (per-rank vs global batch-norm statistics) must not look the same.
      ...(() => {
        const dp = dataParallelInfo();
        return dp ? { worldSize: dp.worldSize, syncBatchNorm: dp.syncBatchNorm } : {};
      })(),
    },
    config: opts.config ?? null,
    createdAt: new Date().toISOString(),
  };
}

interface Start {
  state: TrainingState;
  resumedFrom?: string;
  skipped: RunSummary['skippedCheckpoints'];
}

/**
 * Where the run begins: a fresh run (refused over an existing one unless resuming), or the newest
 * usable checkpoint. Brings config.json and metrics.jsonl in line with that starting point.
 */
function startOrResume(recipe: Recipe, opts: TrainingRunOptions, folder: RunFolder, id: CheckpointIdentity, tensors: CheckpointedTensors, progress: ProgressSink): Start {
  const dir = opts.outDir;
  if (!opts.resume && (listCheckpoints(dir).length > 0 || folder.hasMetrics())) refuseToClobber(dir);
  const skipped: Start['skipped'] = [];
  const point = opts.resume
    ? loadNewestCheckpoint(dir, id, tensors, skipped, (file, reason) => progress.message(`warning: cannot use checkpoint ${file}: ${reason}; trying the previous one`))
    : undefined;
  if (point === undefined) {
    if (opts.resume) progress.message(`no checkpoint in ${dir}; starting a fresh run${folder.hasMetrics() ? ' (the records of the earlier attempt are dropped from metrics.jsonl)' : ''}`);
    folder.truncateMetrics(undefined); // a fresh start writes every record again
    folder.writeConfig(freshConfig(recipe, opts));
    return { state: freshTrainingState(), skipped };
  }
  const { state, file } = point;
  if (state.epoch > opts.epochs) {
    throw new Error(`${dir}: the run has already completed ${state.epoch} epochs; ${opts.epochs} epochs would shorten it (to train longer, resume with more epochs than ${state.epoch})`);
  }
  folder.truncateMetrics({ globalStep: state.globalStep, epochsDone: state.epoch });
  folder.updateConfig(opts.epochs, opts.config ?? null);
  if (state.epoch === opts.epochs) {
    progress.message(`${dir}: already finished (${state.epoch}/${opts.epochs} epochs); nothing to train (to train longer, resume with more epochs)`);
  } else {
    folder.append({ type: 'resume', globalStep: state.globalStep, epoch: state.epoch + 1, stepInEpoch: state.stepInEpoch, checkpoint: path.basename(file), time: new Date().toISOString() });
    progress.message(`resuming ${recipe.name} from ${file} (epoch ${state.epoch + 1}, step ${state.stepInEpoch}/${id.stepsPerEpoch})`);
  }
  return { state, resumedFrom: file, skipped };
}

/**
 * The checks `runTraining` makes on its folder before it trains (a file in the way, a run already
 * there without `resume`, a live process in it), for callers that do slow work before they call it.
 */
export function checkRunFolder(outDir: string, resume: boolean): void {
  if (!ddpIsWriter()) return; // [distributed] ranks > 0 never use the run folder
  const folder = new RunFolder(outDir);
  folder.refuseIfNotFolder();
  if (!resume && (listCheckpoints(outDir).length > 0 || folder.hasMetrics())) refuseToClobber(outDir);
  refuseIfLocked(outDir);
}

function refuseToClobber(dir: string): never {
  throw new Error(`${dir}: already holds a training run; resume it (--resume ${dir}) or choose another --out`);
}

function epochContext(recipe: Recipe, opts: TrainingRunOptions, parts: Pick<EpochContext, 'folder' | 'progress' | 'stop' | 'optimizers' | 'identity' | 'tensors' | 'batches' | 'stepsPerEpoch' | 'state'>): EpochContext {
  return {
    ...parts,
    recipe,
    epochs: opts.epochs,
    seed: opts.seed,
    schedule: opts.lrSchedule ?? (() => 1),
    checkpointEverySteps: opts.checkpointEverySteps ?? 0,
    logEverySteps: opts.logEverySteps ?? 50,
    stopAfterSteps: opts.stopAfterSteps,
    evaluate: opts.evaluate,
    bestMetric: opts.bestMetric,
    saveWeights: opts.saveWeights ?? defaultSaveWeights(recipe),
    afterStep: opts.afterStep,
  };
}

/**
 * The shared training loop: runs `recipe` for the configured epochs with the input pipeline, LR
 * schedule and optimizers, writing `config.json`, `metrics.jsonl`, checkpoints and `last/` (and
 * `best/`) weights into `opts.outDir`; resumes a killed run bit for bit. Example:
 * `await runTraining(new TradesRecipe(net, { beta: 6 }), { outDir: 'runs/t', data: { train: ds.train }, epochs: 3, batchSize: 128, seed: 0, optimizers: { main: { kind: 'sgd', lr: 0.1, momentum: 0.9 } } })`.
 * Defaults: constant LR, checkpoints at epoch ends, a metrics line every 50 steps, SIGINT handled, progress on stderr.
 */
export async function runTraining(recipe: Recipe, opts: TrainingRunOptions): Promise<RunSummary> {
  const t0 = Date.now();
  validateOptions(recipe, opts);
  recipe = ddpRecipe(recipe); // [distributed] shard each batch, average gradients over ranks
  opts = ddpRunOptions(opts); // [distributed] ranks > 0: scratch folder, no progress, no evaluation
  const progress = opts.progress ?? stderrProgress();
  const folder = new RunFolder(opts.outDir);
  folder.create();
  const releaseLock = acquireRunLock(opts.outDir);
  const optimizers: Record<string, LoopOptimizer> = {};
  const stop = new StopSignal(opts.handleSigint ?? true, (m) => progress.message(m));
  try {
    const { batches, stepsPerEpoch } = batchSource(opts);
    for (const [g, vars] of Object.entries(recipe.variableGroups())) optimizers[g] = createOptimizer(opts.optimizers[g]!, vars);
    const identity: CheckpointIdentity = { recipe: recipe.name, seed: opts.seed, batchSize: opts.batchSize, stepsPerEpoch };
    const tensors: CheckpointedTensors = { state: recipe.stateTensors(), optimizers };
    const start = startOrResume(recipe, opts, folder, identity, tensors, progress);
    const alreadyFinished = start.resumedFrom !== undefined && start.state.epoch >= opts.epochs;
    const ctx = epochContext(recipe, opts, { folder, progress, stop, optimizers, identity, tensors, batches, stepsPerEpoch, state: ddpSyncStart(start.state, tensors.state.values(), optimizers) }); // [distributed] rank 0's state everywhere
    let lastEpoch: EpochResult | undefined;
    let stoppedBy: StopReason | undefined;
    let converged = false;
    while (ctx.state.epoch < opts.epochs && stoppedBy === undefined && !(converged = opts.converged?.() ?? false)) {
      const started = Date.now();
      const { stopped, lrs } = await runEpochSteps(ctx, started);
      stoppedBy = stopped;
      if (stoppedBy !== undefined) break;
      lastEpoch = await finishEpoch(ctx, started, lrs);
      if (ctx.state.epoch < opts.epochs) stoppedBy = stopReason(ctx);
    }
    ddpFinish(); // [distributed] every rank reaches the end before rank 0's store goes away
    const s = ctx.state;
    if (stoppedBy !== undefined) progress.message(`stopped (${stoppedBy}) at epoch ${s.epoch + 1}, step ${s.stepInEpoch}/${stepsPerEpoch}; continue with --resume ${opts.outDir}`);
    return {
      outDir: opts.outDir,
      epochsCompleted: s.epoch,
      globalStep: s.globalStep,
      interrupted: stoppedBy !== undefined,
      ...(stoppedBy !== undefined ? { stoppedBy } : {}),
      ...(alreadyFinished ? { alreadyFinished } : {}),
      ...(converged ? { converged } : {}),
      ...(start.resumedFrom !== undefined ? { resumedFrom: start.resumedFrom } : {}),
      skippedCheckpoints: start.skipped,
      ...(lastEpoch !== undefined ? { lastEpoch } : {}),
      ...(s.best !== null ? { best: s.best } : {}),
      wallSeconds: (Date.now() - t0) / 1000,
    };
  } finally {
    stop.dispose();
    for (const o of Object.values(optimizers)) o.dispose();
    releaseLock();
    ddpCleanup(); // [distributed]
  }
}

export { silentProgress, stderrProgress };
