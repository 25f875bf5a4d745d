/**
 * One epoch of the training loop (loop.ts orchestrates): the steps of the epoch from wherever the
 * run stands, with progress, metrics records and mid-epoch checkpoints, then the end of the epoch
 * (evaluation, epoch record, last/ and best/ weights, the epoch-boundary checkpoint).
 *
 * Everything the steps change lives in `ctx.state` (a `TrainingState`), which is exactly what a
 * checkpoint stores, so stopping between any two steps and resuming gives the same run.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { BatchIterator } from '../data/pipeline.js';
import { emptySums, saveCheckpoint, type CheckpointIdentity, type CheckpointedTensors, type MetricSums, type TrainingState } from './checkpoint.js';
import type { InspectableOptimizer } from './optim.js';
import type { ProgressSink } from './progress.js';
import { deriveSeed, SEED_PURPOSE } from './step-seeds.js';
import type { RunFolder } from './run-folder.js';
import { yieldToSignals, type StopSignal, type StopSignalName } from './stop-signal.js';
import type { Recipe } from './types.js';
import { ddpAnyRank } from './data-parallel.js'; // [distributed]

/** Learning-rate multiplier for `group` during `epoch` (1-based). */
export type LrSchedule = (epoch: number, group: string) => number;

export type StopReason = StopSignalName | 'stop-after-steps';

/** What one epoch needs; built once per run by loop.ts. */
export interface EpochContext {
  readonly recipe: Recipe;
  readonly folder: RunFolder;
  readonly progress: ProgressSink;
  readonly stop: StopSignal;
  readonly optimizers: Readonly<Record<string, InspectableOptimizer & tf.Optimizer>>;
  readonly identity: CheckpointIdentity;
  readonly tensors: CheckpointedTensors;
  /** The batches of `epoch` (0-based) from batch `startBatch` on. */
  readonly batches: (epoch: number, startBatch: number) => BatchIterator;
  readonly stepsPerEpoch: number;
  readonly epochs: number;
  readonly seed: number;
  readonly schedule: LrSchedule;
  readonly checkpointEverySteps: number;
  readonly logEverySteps: number;
  readonly stopAfterSteps: number | undefined;
  readonly evaluate: ((epoch: number) => Record<string, number> | Promise<Record<string, number>>) | undefined;
  readonly bestMetric: string | undefined;
  readonly saveWeights: (dir: string) => void | Promise<void>;
  readonly afterStep: ((globalStep: number) => void | Promise<void>) | undefined;
  state: TrainingState;
}

export interface EpochResult {
  epoch: number;
  train: Record<string, number>;
  eval: Record<string, number>;
}

/** Why the run should stop now, if it should. */
export function stopReason(ctx: EpochContext): StopReason | undefined {
  // [distributed] a signal on any rank stops every rank at this same step
  if (ddpAnyRank(ctx.stop.received !== undefined)) return ctx.stop.received ?? 'SIGINT';
  if (ctx.stopAfterSteps !== undefined && ctx.state.globalStep >= ctx.stopAfterSteps) return 'stop-after-steps';
  return undefined;
}

function means(s: MetricSums): Record<string, number> {
  return Object.fromEntries(Object.entries(s.sums).map(([k, v]) => [k, v / Math.max(1, s.steps)]));
}

function add(s: MetricSums, metrics: Record<string, number>, images: number): void {
  s.steps++;
  s.images += images;
  for (const [k, v] of Object.entries(metrics)) s.sums[k] = (s.sums[k] ?? 0) + v;
}

/** Sets each group's learning rate for the 1-based epoch; returns them for the records. */
function applySchedule(ctx: EpochContext, epoch1: number): Record<string, number> {
  const lrs: Record<string, number> = {};
  for (const [g, o] of Object.entries(ctx.optimizers)) {
    o.learningRate = o.baseLr * ctx.schedule(epoch1, g);
    lrs[g] = o.learningRate;
  }
  return lrs;
}

function checkpoint(ctx: EpochContext): string {
  return saveCheckpoint(ctx.folder.dir, ctx.identity, ctx.state, ctx.tensors);
}

/**
 * Runs the remaining steps of the current epoch. Returns why it stopped before the epoch's end (a
 * checkpoint was written), or undefined when the epoch's last step is done.
 */
export async function runEpochSteps(ctx: EpochContext, started: number): Promise<{ stopped?: StopReason; lrs: Record<string, number> }> {
  const s = ctx.state;
  const epoch1 = s.epoch + 1;
  const lrs = applySchedule(ctx, epoch1);
  const firstStep = s.stepInEpoch;
  let images = 0;
  const iterator = ctx.batches(s.epoch, s.stepInEpoch);
  for (const plain of iterator) {
    const batch = { ...plain, indices: iterator.batchIndices(s.stepInEpoch) };
    const n = batch.x.shape[0];
    let metrics: Record<string, number>;
    try {
      metrics = ctx.recipe.step(batch, ctx.optimizers, deriveSeed(ctx.seed, SEED_PURPOSE.recipeStep, s.epoch, s.stepInEpoch));
    } finally {
      batch.x.dispose();
      batch.y.dispose();
    }
    s.stepInEpoch++;
    s.globalStep++;
    images += n;
    add(s.epochAccum, metrics, n);
    add(s.logWindow, metrics, n);
    const elapsed = (Date.now() - started) / 1000;
    const imagesPerSecond = elapsed > 0 ? images / elapsed : 0;
    ctx.progress.step({
      epoch: epoch1,
      epochs: ctx.epochs,
      step: s.stepInEpoch,
      stepsPerEpoch: ctx.stepsPerEpoch,
      imagesPerSecond,
      metrics: means(s.epochAccum),
      etaSeconds: (elapsed / (s.stepInEpoch - firstStep)) * (ctx.stepsPerEpoch - s.stepInEpoch),
    });
    if (s.globalStep % ctx.logEverySteps === 0) {
      ctx.folder.append({ type: 'step', epoch: epoch1, step: s.stepInEpoch, globalStep: s.globalStep, lr: lrs, ...means(s.logWindow), imagesPerSecond });
      s.logWindow = emptySums();
    }
    if (ctx.afterStep) await ctx.afterStep(s.globalStep);
    await yieldToSignals();
    if (s.stepInEpoch === ctx.stepsPerEpoch) break; // the epoch-boundary checkpoint follows in finishEpoch
    const stopped = stopReason(ctx);
    if (stopped !== undefined || (ctx.checkpointEverySteps > 0 && s.globalStep % ctx.checkpointEverySteps === 0)) checkpoint(ctx);
    if (stopped !== undefined) return { stopped, lrs };
  }
  return { lrs };
}

/** End of an epoch: evaluate, record, write last/ (and best/), move to the next epoch, checkpoint. */
export async function finishEpoch(ctx: EpochContext, started: number, lrs: Record<string, number>): Promise<EpochResult> {
  const s = ctx.state;
  const epoch1 = s.epoch + 1;
  const train = means(s.epochAccum);
  const evalMetrics = ctx.evaluate ? await ctx.evaluate(epoch1) : {};
  const seconds = (Date.now() - started) / 1000;
  ctx.folder.append({ type: 'epoch', epoch: epoch1, globalStep: s.globalStep, seconds, lr: lrs, train, eval: evalMetrics, time: new Date().toISOString() });
  ctx.progress.epochEnd(epoch1, ctx.epochs, { ...train, ...evalMetrics }, seconds);
  await ctx.folder.replaceWeights('last', ctx.saveWeights);
  if (ctx.bestMetric !== undefined) {
    const v = evalMetrics[ctx.bestMetric];
    if (v === undefined) {
      ctx.progress.message(`warning: evaluate() returned no '${ctx.bestMetric}'; best/ not updated`);
    } else if (s.best === null || v > s.best.value) {
      s.best = { metric: ctx.bestMetric, value: v, epoch: epoch1 };
      await ctx.folder.replaceWeights('best', ctx.saveWeights);
    }
  }
  s.epoch++;
  s.stepInEpoch = 0;
  s.epochAccum = emptySums();
  checkpoint(ctx);
  return { epoch: epoch1, train, eval: evalMetrics };
}
