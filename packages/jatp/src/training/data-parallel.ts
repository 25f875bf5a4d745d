/**
 * Data-parallel training (DDP semantics) for the shared loop, on the engine's c10d process groups.
 * training/loop.ts calls the `ddp*` hooks below; each is the identity when no data-parallel run was
 * started in this process, so single-process training is unchanged.
 *
 * What a run of N ranks computes is what one process computes with the same global batch size:
 * - every rank iterates the same seeded epoch order and augmentation (data/pipeline.ts is a function
 *   of seed, epoch and position), and keeps a disjoint, contiguous slice of each global batch;
 * - rank 0's initial (or resumed) weights, BN statistics, recipe state, optimizer slots and loop
 *   position are broadcast before the first step;
 * - every `applyGradients` of every optimizer (one for classifiers, two for the GAN defenses)
 *   first replaces the gradients by their batch-weighted mean over ranks, so each optimizer step
 *   sees the gradient of the global batch's mean loss (shards may differ by one example);
 * - batch-norm statistics are per rank by default (rank 0's running statistics are the ones
 *   saved); with `syncBatchNorm` they are computed over the global batch in the forward pass and
 *   the backward pass carries the other ranks' share (then N ranks equal one process);
 * - only rank 0 writes and evaluates: ranks > 0 run the loop in a private scratch folder that is
 *   removed after;
 * - metrics are averaged over ranks (batch-weighted) before they are logged;
 * - a stop request (Ctrl-C, --stop-after-steps) on any rank stops every rank at the same step.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { Batch, Recipe } from './types.js';
import { silentProgress, type ProgressSink } from './progress.js';
import type { BatchNormLayer } from '../models/fused-batch-norm.js';

/** The engine's process group, as far as this module uses it (tfjs-backend-torch/src/distributed.ts). */
export interface DataParallelGroup {
  readonly rank: number;
  readonly worldSize: number;
  allReduce(tensors: readonly tf.Tensor[], opts?: { op?: 'sum' | 'mean'; preScale?: number; bucketBytes?: number }): tf.Tensor[];
  broadcast(tensors: readonly tf.Tensor[], root?: number): tf.Tensor[];
  barrier(): void;
  stats(): { payloadBytes: number; commSeconds: number; collectives: number };
  destroy(): void;
}

/** Options of `enableDataParallel`: `syncBatchNorm` (default false), `bucketBytes` (default the engine's 25 MiB). */
export interface DataParallelOptions {
  /** Batch-norm statistics over the global batch (SyncBatchNorm) instead of per rank. Default false. */
  syncBatchNorm?: boolean;
  /** Bucket size of the gradient all-reduce, bytes (default: the engine's, 25 MiB). */
  bucketBytes?: number;
}

interface Context {
  group: DataParallelGroup;
  opts: DataParallelOptions;
  /** This rank's share of the current global batch (n_rank / n_global): the gradient weight. */
  weight: number;
  /** Rows of the current global batch. */
  globalRows: number;
  scratchDirs: string[];
}

let ctx: Context | undefined;

/** The running data-parallel context's rank and size, or undefined in a single-process run. */
export function dataParallelInfo(): { rank: number; worldSize: number; syncBatchNorm: boolean } | undefined {
  return ctx && { rank: ctx.group.rank, worldSize: ctx.group.worldSize, syncBatchNorm: ctx.opts.syncBatchNorm ?? false };
}

/** True unless this is a data-parallel rank other than 0 (the one that writes files and logs). */
export function ddpIsWriter(): boolean {
  return ctx === undefined || ctx.group.rank === 0;
}

/**
 * Makes training in this process data-parallel over `group` (one call per process, before
 * runTraining). Returns a function that ends it (destroys nothing: the caller owns the group).
 */
export function enableDataParallel(group: DataParallelGroup, opts: DataParallelOptions = {}): () => void {
  if (ctx !== undefined) throw new Error('data parallel: already enabled in this process');
  ctx = { group, opts, weight: 1, globalRows: 0, scratchDirs: [] };
  const restoreBn = opts.syncBatchNorm ? installSyncBatchNorm() : () => {};
  return () => {
    restoreBn();
    ctx = undefined;
  };
}

/** Rows [lo, hi) of an n-row global batch that `rank` of `world` trains on (balanced, contiguous). */
export function shardRange(n: number, rank: number, world: number): [number, number] {
  return [Math.floor((n * rank) / world), Math.floor((n * (rank + 1)) / world)];
}

// --- hooks called by training/loop.ts ---------------------------------------------------------------

/**
 * The run options this rank trains with: unchanged on rank 0; on ranks > 0 a private scratch
 * folder (removed by ddpCleanup), no progress output, and no per-epoch evaluation (rank 0's alone
 * decides best/, and evaluating N times would only slow the others down).
 */
export function ddpRunOptions<O extends { outDir: string; progress?: ProgressSink; evaluate?: unknown; bestMetric?: string }>(opts: O): O {
  if (ctx === undefined || ctx.group.rank === 0) return opts;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `jatp-rank${ctx.group.rank}-`));
  ctx.scratchDirs.push(dir);
  const { evaluate: _evaluate, bestMetric: _bestMetric, ...rest } = opts;
  return { ...rest, outDir: path.join(dir, 'run'), progress: silentProgress } as O;
}

/**
 * Wraps a recipe so each step trains this rank's shard of the global batch, every optimizer
 * averages gradients over ranks before it steps, and the returned metrics are the global batch's.
 */
export function ddpRecipe(recipe: Recipe): Recipe {
  if (ctx === undefined) return recipe;
  const c = ctx;
  if (recipe.name === 'mma-original') {
    // Its per-example margin table is updated for the current batch's examples only; with shards,
    // each rank would hold a different table. Not merged yet, so refuse rather than diverge.
    throw new Error("data parallel: recipe 'mma-original' keeps per-example state that is not synchronised across ranks yet; train it in one process");
  }
  const wrapped = new WeakSet<tf.Optimizer>();
  return {
    name: recipe.name,
    variableGroups: () => recipe.variableGroups(),
    stateTensors: () => recipe.stateTensors(),
    step(batch: Batch, optimizers: Record<string, tf.Optimizer>, seed: number): Record<string, number> {
      for (const o of Object.values(optimizers)) {
        if (!wrapped.has(o)) {
          averageGradientsBeforeStep(o, c);
          wrapped.add(o);
        }
      }
      const n = batch.x.shape[0];
      const [lo, hi] = shardRange(n, c.group.rank, c.group.worldSize);
      if (hi <= lo) {
        throw new Error(`data parallel: a batch of ${n} examples cannot give each of ${c.group.worldSize} ranks one (use a batch size of at least ${c.group.worldSize}, with a last partial batch of at least ${c.group.worldSize} or dropped, or fewer ranks)`);
      }
      c.weight = (hi - lo) / n;
      c.globalRows = n;
      const x = tf.slice(batch.x, [lo, 0, 0, 0], [hi - lo, -1, -1, -1]);
      const y = tf.slice(batch.y, [lo], [hi - lo]);
      let metrics: Record<string, number>;
      try {
        metrics = recipe.step({ x, y, ...(batch.indices ? { indices: batch.indices.subarray(lo, hi) } : {}) }, optimizers, seed);
      } finally {
        tf.dispose([x, y]);
      }
      return globalMetrics(metrics, c);
    },
  };
}

/** Broadcasts rank 0's tensors and loop position to every rank (fresh start and resume alike). */
export function ddpSyncStart<P>(position: P, tensors: Iterable<tf.Variable>, optimizers: Record<string, { stepCount: number; restoreStepCount(n: number): void; slots(): Map<string, tf.Variable> }>): P {
  if (ctx === undefined) return position;
  const g = ctx.group;
  const vars = [...tensors];
  for (const o of Object.values(optimizers)) vars.push(...o.slots().values());
  const fromRoot = g.broadcast(vars, 0);
  vars.forEach((v, i) => v.assign(fromRoot[i]!));
  tf.dispose(fromRoot);
  const steps = Object.fromEntries(Object.entries(optimizers).map(([k, o]) => [k, o.stepCount]));
  const synced = broadcastJson(g, { position, steps }) as { position: P; steps: Record<string, number> };
  for (const [k, o] of Object.entries(optimizers)) o.restoreStepCount(synced.steps[k] ?? 0);
  return synced.position;
}

/** True on every rank when it is true on any (so all ranks stop at the same step). */
export function ddpAnyRank(flag: boolean): boolean {
  if (ctx === undefined) return flag;
  const t = tf.tensor1d([flag ? 1 : 0], 'float32');
  const [s] = ctx.group.allReduce([t]);
  const any = s!.dataSync()[0]! > 0;
  tf.dispose([t, s!]);
  return any;
}

/** End of a completed run: wait for every rank, then remove this rank's scratch folders. */
export function ddpFinish(): void {
  if (ctx === undefined) return;
  ctx.group.barrier();
  ddpCleanup();
}

/** Removes scratch folders (also on failure; no collective). */
export function ddpCleanup(): void {
  if (ctx === undefined) return;
  for (const d of ctx.scratchDirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}

// --- internals ----------------------------------------------------------------------------------

type GradientsArg = Parameters<tf.Optimizer['applyGradients']>[0];

/**
 * Replaces `optimizer.applyGradients` (which `minimize` calls too) by: all-reduce the weighted
 * gradients (bucketed), then the original update. The one place every recipe passes through.
 */
function averageGradientsBeforeStep(optimizer: tf.Optimizer, c: Context): void {
  const original = optimizer.applyGradients.bind(optimizer);
  optimizer.applyGradients = (grads: GradientsArg): void => {
    const named: Array<[string, tf.Tensor]> = Array.isArray(grads)
      ? grads.map((g) => [g.name, g.tensor] as [string, tf.Tensor])
      : Object.entries(grads).filter((e): e is [string, tf.Tensor] => e[1] != null);
    // In the recipe's own order (its variable list, the same on every rank): names are not used to
    // pair tensors, since auto-generated layer names could differ between processes.
    const averaged = c.group.allReduce(
      named.map(([, t]) => t),
      { op: 'sum', preScale: c.weight, ...(c.opts.bucketBytes !== undefined ? { bucketBytes: c.opts.bucketBytes } : {}) },
    );
    try {
      original(Object.fromEntries(named.map(([name], i) => [name, averaged[i]!])));
    } finally {
      tf.dispose(averaged);
    }
  };
}

function globalMetrics(m: Record<string, number>, c: Context): Record<string, number> {
  const keys = Object.keys(m).sort();
  if (keys.length === 0) return m;
  const t = tf.tensor1d(keys.map((k) => m[k]!), 'float32');
  const [s] = c.group.allReduce([t], { preScale: c.weight });
  const v = s!.dataSync();
  tf.dispose([t, s!]);
  return Object.fromEntries(keys.map((k, i) => [k, v[i]!]));
}

function broadcastJson(g: DataParallelGroup, value: unknown): unknown {
  const bytes = new TextEncoder().encode(JSON.stringify(value));
  const len = tf.tensor1d([bytes.length], 'int32');
  const [rootLen] = g.broadcast([len], 0);
  const n = rootLen!.dataSync()[0]!;
  tf.dispose([len, rootLen!]);
  const mine = new Int32Array(n);
  if (g.rank === 0) mine.set(bytes);
  const t = tf.tensor1d(mine, 'int32');
  const [root] = g.broadcast([t], 0);
  const text = new TextDecoder().decode(Uint8Array.from(root!.dataSync()));
  tf.dispose([t, root!]);
  return JSON.parse(text);
}

/** Sum over ranks whose backward pass brings back this rank's share of the global gradient. */
function globalSum(local: tf.Tensor, c: Context): tf.Tensor {
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [value] = c.group.allReduce([args[0] as tf.Tensor]);
    // Gradients are later weighted by each rank's batch share (c.weight) and summed; so the share of
    // d(global objective)/d(sum) that reaches this rank's inputs is sum_r(w_r dy_r) / w_self.
    return {
      value: value!,
      gradFunc: (dy: tf.Tensor) => {
        const [g] = c.group.allReduce([dy], { preScale: c.weight });
        const out = tf.div(g!, c.weight);
        g!.dispose();
        return [out];
      },
    };
  });
  return f(local);
}

/**
 * Patches tfjs-layers' BatchNormalization so that, in training mode, the batch mean and variance
 * come from the global batch (every rank's shard). Only the channels-last case the toolkit's
 * networks use is handled; anything else keeps the stock behaviour.
 */
function installSyncBatchNorm(): () => void {
  const probe = tfl.layers.batchNormalization({});
  const proto = Object.getPrototypeOf(probe) as { call: (inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor };
  const stock = proto.call;
  proto.call = function (this: BatchNormLayer, inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
    const c = ctx;
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    const channelsLast = this.axis === -1 || this.axis === x.rank - 1;
    if (c === undefined || kwargs['training'] !== true || !channelsLast || this.gamma === null || this.beta === null) {
      return stock.call(this, inputs, kwargs);
    }
    return tf.tidy(() => {
      const axes = Array.from({ length: x.rank - 1 }, (_, i) => i);
      const perRow = x.shape.slice(1, -1).reduce((a, b) => a * b, 1);
      const count = c.globalRows * perRow;
      const mean = tf.div(globalSum(tf.sum(x, axes), c), count);
      const variance = tf.div(globalSum(tf.sum(tf.square(tf.sub(x, mean)), axes), c), count);
      const out = tf.batchNorm(x, mean, variance, this.beta!.read(), this.gamma!.read(), this.epsilon);
      // Running statistics as tfjs-layers updates them (biased variance, keras momentum).
      const decay = 1 - this.momentum;
      for (const [variable, value] of [[this.movingMean, mean], [this.movingVariance, variance]] as const) {
        tf.tidy(() => {
          const orig = variable.read();
          variable.write(tf.sub(orig, tf.mul(tf.sub(orig, value), decay)));
        });
      }
      return out;
    });
  };
  return () => {
    proto.call = stock;
  };
}
