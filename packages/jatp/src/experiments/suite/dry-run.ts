/**
 * `jatp experiment <name> --scale paper --dry-run`: every cell kind of the experiment through the
 * scheduler's real code path at the scale's network sizes and attack budgets, on a handful of images
 * (dry-run-scale.ts). Each training is stopped after its first step, resumed from the checkpoint and
 * finished; then the report is written. Fails on any error of the cells, on a learning-rate schedule
 * that does not give the preset's rate at its epoch boundaries (or a training that ran at another rate
 * than the preset's times `dryRunLrFactor`), on a non-finite training metric, and on
 * a cell that leaves tensors behind. Records per-step time and peak memory of each cell kind with the
 * machine they were measured on (`measurements.json`), which `jatp experiment plan --measurements`
 * turns into an estimate of the full run.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { provenance, type Provenance } from 'tfjs-backend-torch/provenance';
import { writeFileAtomic } from '../../io/atomic-write.js';
import { piecewiseSchedule } from '../../training/loop.js';
import { loadDataset } from '../../data/load-dataset.js';
import { firstPerClass } from '../../data/subset.js';
import { toFloatBatch } from '../../data/pipeline.js';
import { loadNetwork, readSidecar, saveNetwork, RUN_WEIGHT_CANDIDATES } from '../../models/weights.js';
import { LayersNetwork } from '../../models/layers-network.js';
import type { ProgressSink } from '../../training/progress.js';
import type { ExperimentName } from './declarations/index.js';
import { cellDir, type DefenseCell, type EvalCell, type ResolvedCell, type TargetCell } from './cells.js';
import type { Grid } from './grid.js';
import { ATTACK_COLUMNS, SCALE_SETTINGS, type ScaleName, type ScaleSettings } from './scales.js';
import { DRY_RUN_WORK, autoAttackWorkRatio, dryRunLrFactor, dryRunScale, type PresetOverride } from './dry-run-scale.js';
import { EVAL_FILE, runSuite } from './scheduler.js';
import { writeReport } from './suite-report.js';

export const MEASUREMENTS_FILE = 'measurements.json';

/** Which cells a dry run takes: one of each kind (see `selectKinds`), or every cell of the grid. */
export type DryRunSubset = 'kinds' | 'all';

export interface DryRunOptions {
  readonly out: string;
  readonly dataset: string;
  readonly dataDir?: string;
  readonly experiments: readonly ExperimentName[];
  /** The scale whose presets are exercised; default 'paper'. */
  readonly scale?: ScaleName;
  readonly subset?: DryRunSubset;
  /** Edits the presets first (tests: a deliberately wrong preset must fail the dry run). */
  readonly override?: PresetOverride;
  readonly backend?: string;
  readonly command?: string;
  readonly log?: (line: string) => void;
}

/** What one cell cost on this machine. Times in seconds, memory in bytes. */
export interface CellMeasurement {
  readonly key: string;
  readonly kind: 'target' | 'defense' | 'eval';
  /** 'target:trades', 'defense:nrp:full:none', 'eval:AA:jatp' (estimate.ts matches on these). */
  readonly cls: string;
  /** Training: the dry run's batch size (the preset's is in `presetBatchSize`). */
  readonly batchSize?: number;
  /** Training: the fraction of the preset's learning rate the dry run trained at, when not 1 (`dryRunLrFactor`). */
  readonly lrFactor?: number;
  readonly presetBatchSize?: number;
  /** Training: seconds of the optimizer steps timed between two steps of one session (the first step of a session also pays its setup). */
  readonly stepSeconds?: number[];
  /** The same steps' process CPU time (user + system, all threads): on a shared machine, closer to what the work costs than wall time. */
  readonly stepCpuSeconds?: number[];
  readonly steps?: number;
  /** Training: the per-epoch evaluation (seconds, on how many test images). */
  readonly epochEvalSeconds?: number;
  readonly epochEvalImages?: number;
  /** Baselines: generating the oblivious training examples (seconds, for how many images). */
  readonly obliviousSeconds?: number;
  readonly obliviousImages?: number;
  /** Evaluation: seconds per test image of the attack (on `evalImages` images). */
  readonly evalSecondsPerImage?: number;
  readonly evalImages?: number;
  /** All sessions of the cell, setup included. */
  readonly wallSeconds: number;
  readonly cpuSeconds: number;
  /** Highest process RSS sampled (every 5 ms, from a worker thread) while the cell ran. */
  readonly peakRssBytes: number;
  readonly rssBeforeBytes: number;
  /** Highest tf.memory().numBytes seen between steps (held tensors: weights, optimizer state, data), and before the cell. */
  readonly tfBytesBetweenStepsMax: number;
  readonly tfBytesBefore: number;
}

export interface ScheduleCheck {
  readonly key: string;
  readonly epochs: number;
  /** Learning rate (per optimizer group) at each milestone epoch and the epoch before it. */
  readonly boundaries: { epoch: number; lr: Record<string, number> }[];
  /** Milestones after the last epoch (they never act; e.g. TRADES' 90 and 100 with 76 epochs). */
  readonly inertMilestones: number[];
}

export interface Measurements {
  readonly format: 'jatp-dry-run-measurements';
  readonly version: 1;
  readonly date: string;
  readonly machine: {
    readonly cpuModel: string;
    readonly cores: number;
    readonly memoryBytes: number;
    readonly platform: string;
    readonly node: string;
    /** 1/5/15-minute load averages when the dry run started and ended (the machine may be shared). */
    readonly loadAverageStart: number[];
    readonly loadAverageEnd: number[];
    readonly gpu: string;
  };
  readonly backend: string;
  /** Commit, engine build and CPU (absent in files written before this field). */
  readonly provenance?: Provenance;
  readonly scale: ScaleName;
  readonly dataset: string;
  readonly experiments: readonly ExperimentName[];
  readonly subset: DryRunSubset;
  /** `jatpLrFactor` is absent in files written before the dry run scaled JATP's rate. */
  readonly work: Omit<typeof DRY_RUN_WORK, 'jatpLrFactor'> & { readonly jatpLrFactor?: number };
  /** A robust image's AutoAttack work, standard over the dry run's capped stages (the plan scales AA's measured time by it). */
  readonly autoAttackWorkRatio: number;
  readonly wallSeconds: number;
  readonly schedules: ScheduleCheck[];
  /** Set when the dry run failed: the error (the cells listed are those that finished before it). */
  readonly failure?: string;
  readonly cells: CellMeasurement[];
}

/** The cell kind `estimate.ts` and the plan match measurements on. */
export function cellClass(cell: ResolvedCell): string {
  const c = cell.cell;
  if (c.kind === 'target') return `target:${(c as TargetCell).recipe}`;
  if (c.kind === 'defense') {
    const d = c as DefenseCell;
    return `defense:${d.method}:${d.examples ?? ''}:${d.ablation}`;
  }
  const e = c as EvalCell;
  return `eval:${e.attack}:${e.defense?.method ?? 'none'}`;
}

/**
 * One cell of each kind: one training per cell kind (each target recipe; each pre-processor method
 * with its examples and ablation: the same code path against another target is not run again), each
 * attack once (on a model with JATP in front when the grid has one, so the attack's gradient goes
 * through a pre-processor; BPDA needs one), PGD once on each pre-processor kind and once on a bare
 * target. Every evaluation picked needs only trainings picked.
 */
export function selectKinds(grid: Grid): ResolvedCell[] {
  const byClass = new Map<string, ResolvedCell>();
  for (const t of grid.trainings) if (!byClass.has(cellClass(t))) byClass.set(cellClass(t), t);
  const trained = new Set([...byClass.values()].map((t) => t.key));
  const evals = (grid.evaluations as ResolvedCell<EvalCell>[]).filter((e) => e.needs.every((n) => trained.has(n.key)));
  const picked = new Set<string>();
  for (const attack of ATTACK_COLUMNS) {
    const same = evals.filter((e) => e.cell.attack === attack);
    const c = same.find((e) => e.cell.defense?.method === 'jatp' && e.cell.defense.ablation === 'none') ?? same.find((e) => e.cell.defense) ?? same[0];
    if (c) picked.add(c.key);
  }
  const pgd = evals.filter((e) => e.cell.attack === 'PGD');
  for (const t of byClass.values()) {
    const c = t.cell.kind === 'defense' ? pgd.find((e) => e.needs.some((n) => n.key === t.key)) : undefined;
    if (c) picked.add(c.key);
  }
  const bare = pgd.find((e) => e.cell.defense === undefined);
  if (bare) picked.add(bare.key);
  return [...grid.trainings.filter((t) => trained.has(t.key)), ...grid.evaluations.filter((e) => picked.has(e.key))];
}

/**
 * Checks a preset's schedule at the paper's epoch boundaries without running those epochs: the
 * schedule the training uses (`piecewiseSchedule`) must give, at each milestone epoch, the base lr
 * times that milestone's factor, and the previous factor the epoch before. Throws naming the cell.
 */
export function checkSchedule(key: string, baseLr: Record<string, number>, milestones: ReadonlyArray<readonly [number, number]>, epochs: number): ScheduleCheck {
  const fail = (why: string): never => {
    throw new Error(`dry run: ${key}: learning-rate schedule ${JSON.stringify(milestones)} over ${epochs} epochs: ${why}`);
  };
  if (!Number.isInteger(epochs) || epochs < 1) fail(`epochs must be a positive integer`);
  for (const [g, lr] of Object.entries(baseLr)) if (!(Number.isFinite(lr) && lr > 0)) fail(`base lr of '${g}' is ${lr}`);
  let previousEpoch = 0;
  for (const [e, f] of milestones) {
    if (!Number.isInteger(e) || e < 1) fail(`milestone epoch ${e} is not a positive integer (epochs are 1-based)`);
    if (e <= previousEpoch) fail(`milestones must be in increasing epoch order (${e} after ${previousEpoch})`);
    if (!(Number.isFinite(f) && f > 0)) fail(`factor ${f} at epoch ${e} is not a positive number`);
    previousEpoch = e;
  }
  const schedule = piecewiseSchedule(milestones);
  // The loop asks per optimizer group; the presets' schedules apply to every group alike.
  const groups = Object.keys(baseLr);
  const multiplier = (epoch: number): number => {
    const m = schedule(epoch, groups[0]!);
    for (const g of groups) if (schedule(epoch, g) !== m) fail(`groups get different multipliers at epoch ${epoch}`);
    return m;
  };
  const lrAt = (epoch: number) => Object.fromEntries(Object.entries(baseLr).map(([g, lr]) => [g, lr * multiplier(epoch)]));
  const boundaries: ScheduleCheck['boundaries'] = [{ epoch: 1, lr: lrAt(1) }];
  milestones.forEach(([e, f], i) => {
    const before = i === 0 ? 1 : milestones[i - 1]![1];
    if (e > 1 && multiplier(e - 1) !== before) fail(`at epoch ${e - 1} the multiplier is ${multiplier(e - 1)}, expected ${before}`);
    if (multiplier(e) !== f) fail(`at epoch ${e} the multiplier is ${multiplier(e)}, expected ${f}`);
    if (e > 1) boundaries.push({ epoch: e - 1, lr: lrAt(e - 1) });
    boundaries.push({ epoch: e, lr: lrAt(e) });
  });
  const inert = milestones.filter(([e]) => e > epochs).map(([e]) => e);
  return { key, epochs, boundaries, inertMilestones: inert };
}

function baseLrs(cell: ResolvedCell, scale: ScaleSettings, dataset: string): { lr: Record<string, number>; milestones: ReadonlyArray<readonly [number, number]>; epochs: number; batchSize: number } {
  if (cell.cell.kind === 'target') {
    const c = scale.targetConfig((cell.cell as TargetCell).recipe, dataset, cell.cell.seed);
    return { lr: { main: c.optimizer.lr }, milestones: c.lrMilestones, epochs: c.epochs, batchSize: c.batchSize };
  }
  const d = cell.cell as DefenseCell;
  const c = scale.defenseConfig(d.method, dataset, d.examples, d.ablation);
  return { lr: Object.fromEntries(Object.entries(c.optimizers).map(([g, o]) => [g, o.lr])), milestones: c.lrMilestones, epochs: c.epochs, batchSize: c.batchSize };
}

/** Peak process RSS, sampled by a worker thread (it keeps sampling while the main thread is inside a native kernel). */
class RssSampler {
  private readonly shared = new SharedArrayBuffer(8);
  private readonly peak = new Float64Array(this.shared);
  private readonly worker: Worker;
  constructor() {
    this.worker = new Worker(
      `const { workerData } = require('node:worker_threads');
       const peak = new Float64Array(workerData);
       setInterval(() => { const r = process.memoryUsage.rss(); if (r > peak[0]) peak[0] = r; }, 5);`,
      { eval: true, workerData: this.shared },
    );
    this.worker.unref();
  }
  reset(): void {
    this.peak[0] = process.memoryUsage.rss();
  }
  read(): number {
    return Math.max(this.peak[0]!, process.memoryUsage.rss());
  }
  async stop(): Promise<void> {
    await this.worker.terminate();
  }
}

interface CellRecord {
  cell: ResolvedCell;
  sessions: number;
  interrupted: number;
  stepSeconds: number[];
  stepCpuSeconds: number[];
  steps: number;
  epochEvalSeconds?: number;
  obliviousSeconds?: number;
  obliviousImages?: number;
  wallSeconds: number;
  cpuSeconds: number;
  peakRss: number;
  rssBefore: number;
  tfBytesMax: number;
  tfBytesBefore: number;
}

function cpuModel(): string {
  return os.cpus()[0]?.model.trim() ?? 'unknown CPU';
}

/**
 * Runs an experiment's cells at a scale's real network sizes and attack budgets on a handful of images
 * (each training stopped once and resumed), writes the report and the measured per-step time and peak
 * memory of every cell kind. Throws on a shape, schedule, leak or non-finite-metric error, naming the cell.
 */
export async function runDryRun(opts: DryRunOptions): Promise<{ measurements: Measurements; file: string; report: string; suiteCalls: number }> {
  const log = opts.log ?? (() => {});
  const scaleName = opts.scale ?? 'paper';
  const subset = opts.subset ?? 'kinds';
  const presets: ScaleSettings = dryRunScale(SCALE_SETTINGS[scaleName], opts.override);
  // The presets as a real run would use them (override applied, work not shrunk), for the schedule checks.
  const real: ScaleSettings = {
    ...SCALE_SETTINGS[scaleName],
    targetConfig: (r, d, s) => (opts.override?.target ?? ((c) => c))(SCALE_SETTINGS[scaleName].targetConfig(r, d, s)),
    defenseConfig: (m, d, e, a) => (opts.override?.defense ?? ((c) => c))(SCALE_SETTINGS[scaleName].defenseConfig(m, d, e, a)),
  };
  const started = Date.now();
  const loadStart = os.loadavg();
  const records = new Map<string, CellRecord>();
  const sampler = new RssSampler();
  let current: { record: CellRecord; t0: number; cpu0: number; numTensors: number; numBytes: number; lastStep?: number; lastCpu?: number; oblStart?: number } | undefined;
  const cpuNow = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  const schedules: ScheduleCheck[] = [];
  let trainings: ResolvedCell[] = [];
  const select = (grid: Grid): ResolvedCell[] => {
    const cells = subset === 'all' ? [...grid.trainings, ...grid.evaluations] : selectKinds(grid);
    if (trainings.length === 0) {
      trainings = cells.filter((c) => c.cell.kind !== 'eval');
      // Schedules first: a wrong preset fails before any training.
      for (const t of trainings) {
        const r = baseLrs(t, real, opts.dataset);
        schedules.push(checkSchedule(t.key, r.lr, r.milestones, r.epochs));
      }
      log(`dry run (${subset}): ${cells.length} cells: ${trainings.length} trainings, ${cells.length - trainings.length} evaluations; schedules checked at ${schedules.reduce((a, s) => a + s.boundaries.length, 0)} epoch boundaries`);
    }
    return cells;
  };
  const sink = (): ProgressSink => ({
    step: (p) => {
      if (!current) return;
      // A diverged training fails here, at the step, not later when its weights are loaded.
      for (const [k, v] of Object.entries(p.metrics)) {
        if (!Number.isFinite(v)) throw new Error(`dry run: ${current.record.cell.key}: training metric '${k}' is ${v} after step ${p.step} of epoch ${p.epoch} (running mean; the preset diverges)`);
      }
      const now = performance.now();
      const cpu = cpuNow();
      if (current.lastStep !== undefined) current.record.stepSeconds.push((now - current.lastStep) / 1000);
      if (current.lastCpu !== undefined) current.record.stepCpuSeconds.push(cpu - current.lastCpu);
      current.lastStep = now;
      current.lastCpu = cpu;
      current.record.steps++;
      current.record.tfBytesMax = Math.max(current.record.tfBytesMax, tf.memory().numBytes);
    },
    epochEnd: () => {
      if (current?.lastStep !== undefined) current.record.epochEvalSeconds = (performance.now() - current.lastStep) / 1000;
    },
    message: (text) => {
      if (!current) return;
      if (/^oblivious \S+ examples for (\d+) images/.test(text)) {
        current.oblStart = performance.now();
        current.record.obliviousImages = Number(/for (\d+) images/.exec(text)![1]);
      }
      const done = /oblivious examples (\d+)\/(\d+)/.exec(text);
      if (done && done[1] === done[2] && current.oblStart !== undefined) current.record.obliviousSeconds = (performance.now() - current.oblStart) / 1000;
    },
  });
  const hooks = {
    scale: presets,
    select,
    interruptAfterSteps: 1,
    cellStarted: (cell: ResolvedCell): ProgressSink => {
      const record = records.get(cell.key) ?? { cell, sessions: 0, interrupted: 0, stepSeconds: [], stepCpuSeconds: [], steps: 0, wallSeconds: 0, cpuSeconds: 0, peakRss: 0, rssBefore: process.memoryUsage.rss(), tfBytesMax: 0, tfBytesBefore: tf.memory().numBytes };
      records.set(cell.key, record);
      record.sessions++;
      sampler.reset();
      const m = tf.memory();
      current = { record, t0: performance.now(), cpu0: cpuNow(), numTensors: m.numTensors, numBytes: m.numBytes };
      return sink();
    },
    cellFinished: async (cell: ResolvedCell, interrupted: boolean) => {
      const c = current!;
      current = undefined;
      c.record.wallSeconds += (performance.now() - c.t0) / 1000;
      c.record.cpuSeconds += cpuNow() - c.cpu0;
      c.record.peakRss = Math.max(c.record.peakRss, sampler.read());
      if (interrupted) c.record.interrupted++;
      const m = tf.memory();
      if (m.numTensors !== c.numTensors || m.numBytes !== c.numBytes) {
        throw new Error(`dry run: ${cell.key} left ${m.numTensors - c.numTensors} tensors (${m.numBytes - c.numBytes} bytes) behind (tf.memory() before: ${c.numTensors} tensors / ${c.numBytes} bytes, after: ${m.numTensors} / ${m.numBytes})`);
      }
      log(`dry run: ${cell.key}${interrupted ? ' stopped after step 1 (checkpointed)' : ''}: ${((performance.now() - c.t0) / 1000).toFixed(1)} s, peak RSS ${(c.record.peakRss / 2 ** 20).toFixed(0)} MiB`);
      if (cell.cell.kind === 'target' && !interrupted) {
        const dir = cellDir(opts.out, cell.key);
        const n = await calibrateTargetBatchNorm(dir, opts.dataset, opts.dataDir);
        log(`dry run: ${cell.key}: batch-norm running statistics of ${n} weight file(s) set from the ${DRY_RUN_WORK.perClass * 10} training images`);
      }
    },
  };
  let suiteCalls = 0;
  let failure: string | undefined;
  try {
    for (;;) {
      suiteCalls++;
      const r = await runSuite({
        out: opts.out,
        scale: scaleName,
        dataset: opts.dataset,
        ...(opts.dataDir !== undefined ? { dataDir: opts.dataDir } : {}),
        seeds: 1,
        experiments: opts.experiments,
        command: opts.command ?? 'dry run',
        ...(opts.backend !== undefined ? { backend: opts.backend } : {}),
        log,
        dryRun: hooks,
      });
      if (r.leftToOthers > 0) throw new Error(`dry run: ${r.leftToOthers} cell(s) held by another process on ${opts.out}`);
      if (!r.interrupted) break;
      // Every fresh training stops once after step 1; the next call resumes it.
      if (suiteCalls > trainings.length + 1) throw new Error(`dry run: still interrupted after ${suiteCalls} scheduler calls`);
    }
    verifyTrainings(opts.out, trainings, records, schedules);
  } catch (err) {
    failure = (err as Error).message;
    throw err;
  } finally {
    await sampler.stop();
    // Written also when a cell failed: what ran is measured, and the failure is named.
    await writeFileAtomic(path.join(opts.out, MEASUREMENTS_FILE), `${JSON.stringify(measurementsOf(), null, 1)}\n`);
  }
  const report = await writeReport(opts.out);
  return { measurements: measurementsOf(), file: path.join(opts.out, MEASUREMENTS_FILE), report, suiteCalls };

  function measurementsOf(): Measurements {
    return {
    format: 'jatp-dry-run-measurements',
    version: 1,
    date: new Date().toISOString(),
    machine: {
      cpuModel: cpuModel(),
      cores: os.cpus().length,
      memoryBytes: os.totalmem(),
      platform: `${os.platform()} ${os.release()} ${os.arch()}`,
      node: process.version,
      loadAverageStart: loadStart.map((x) => Number(x.toFixed(2))),
      loadAverageEnd: os.loadavg().map((x) => Number(x.toFixed(2))),
      gpu: 'none (not measured on a GPU)',
    },
    backend: opts.backend ?? tf.getBackend(),
    provenance: provenance(),
    scale: scaleName,
    dataset: opts.dataset,
    experiments: [...opts.experiments],
    subset,
    work: DRY_RUN_WORK,
    autoAttackWorkRatio: Number(autoAttackWorkRatio().toFixed(3)),
    wallSeconds: (Date.now() - started) / 1000,
    schedules,
    ...(failure !== undefined ? { failure } : {}),
    // Cells that finished (a failed or interrupted one has nothing comparable to measure).
    cells: [...records.values()].filter((r) => fs.existsSync(path.join(cellDir(opts.out, r.cell.key), r.cell.cell.kind === 'eval' ? EVAL_FILE : 'done.json'))).map((r) => measurementOf(opts.out, r, real, opts.dataset)),
    };
  }
}

/**
 * Why the dry run recalibrates its targets' batch norm: after the dry run's five optimizer steps a
 * target's running statistics are still ~35% their initial values (mean 0, variance 1; each update
 * moves them 10% of the way at PyTorch's momentum 0.1), while ResNet-18's unnormalised activations grow
 * through depth. In eval mode, which is how every pre-processor sees its frozen target, the dry run's
 * TRADES ResNet-18 then gave logits of |z| ~ 6e6 (layer3 ~ 1.6e4) where train mode gives ~ 90; JATP's
 * cross-entropy on those logits was 3e7 and its step 2 NaN. A real run's 76 epochs leave valid
 * statistics, so this is the dry run's artifact: here the running statistics are set, in one
 * train-mode pass at momentum 0 (each layer's statistics become those of the batch), from the
 * target's own training images, and every weight file of the cell is rewritten (with its checksum).
 * Returns how many weight files were rewritten.
 */
export async function calibrateTargetBatchNorm(dir: string, dataset: string, dataDir?: string): Promise<number> {
  const ds = await loadDataset(dataset, dataDir !== undefined ? { dataDir } : {});
  const train = firstPerClass(ds.train, DRY_RUN_WORK.perClass);
  let rewritten = 0;
  for (const rel of RUN_WEIGHT_CANDIDATES) {
    const file = path.join(dir, rel);
    if (!fs.existsSync(file)) continue;
    const sidecar = await readSidecar(file);
    const net = await loadNetwork(file);
    const batch = toFloatBatch(train, Array.from({ length: train.count }, (_, i) => i), ds.imageShape);
    try {
      if (!(net instanceof LayersNetwork)) throw new Error(`dry run: ${file}: batch-norm calibration needs a tfjs-layers network, got '${net.arch}'`);
      const norms = net.model.layers.filter((l) => l.getClassName() === 'BatchNormalization') as unknown as Array<{ momentum: number }>;
      const saved = norms.map((l) => l.momentum);
      try {
        for (const l of norms) l.momentum = 0;
        tf.tidy(() => {
          net.apply(batch.x, true);
        });
      } finally {
        norms.forEach((l, i) => (l.momentum = saved[i]!));
      }
      await saveNetwork(net, file, sidecar);
      rewritten++;
    } finally {
      tf.dispose([batch.x, batch.y]);
      net.dispose();
    }
  }
  return rewritten;
}

/** Each training was stopped once and resumed, ran with the preset's epoch-1 learning rate (times `dryRunLrFactor`), and kept finite metrics. */
function verifyTrainings(out: string, trainings: readonly ResolvedCell[], records: Map<string, CellRecord>, schedules: readonly ScheduleCheck[]): void {
  for (const t of trainings) {
    const r = records.get(t.key);
    if (!r || r.interrupted !== 1 || r.sessions !== 2) throw new Error(`dry run: ${t.key} was not stopped once and resumed (sessions ${r?.sessions ?? 0}, interruptions ${r?.interrupted ?? 0})`);
    const lines = fs.readFileSync(path.join(cellDir(out, t.key), 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    if (!lines.some((l) => l['type'] === 'resume')) throw new Error(`dry run: ${t.key}: metrics.jsonl records no resume`);
    const epoch = lines.find((l) => l['type'] === 'epoch') as { lr: Record<string, number>; train: Record<string, number>; eval: Record<string, number> } | undefined;
    if (!epoch) throw new Error(`dry run: ${t.key}: metrics.jsonl has no epoch record`);
    const expected = schedules.find((s) => s.key === t.key)!.boundaries[0]!.lr;
    const factor = lrFactorOf(t);
    for (const [g, presetLr] of Object.entries(expected)) {
      const lr = presetLr * factor;
      if (Math.abs((epoch.lr[g] ?? NaN) - lr) > 1e-12 * lr) throw new Error(`dry run: ${t.key}: optimizer '${g}' trained epoch 1 at lr ${epoch.lr[g]}, the preset's schedule gives ${presetLr}${factor !== 1 ? ` (x ${factor} in the dry run: ${lr})` : ''}`);
    }
    for (const [k, v] of Object.entries({ ...epoch.train, ...epoch.eval })) {
      if (!Number.isFinite(v)) throw new Error(`dry run: ${t.key}: epoch metric '${k}' is ${v}`);
    }
  }
}

/** The dry run's learning-rate factor of a training cell (1 for targets). */
function lrFactorOf(cell: ResolvedCell): number {
  return cell.cell.kind === 'defense' ? dryRunLrFactor((cell.cell as DefenseCell).method) : 1;
}

function measurementOf(out: string, r: CellRecord, real: ScaleSettings, dataset: string): CellMeasurement {
  const kind = r.cell.cell.kind;
  const base = {
    key: r.cell.key,
    kind,
    cls: cellClass(r.cell),
    wallSeconds: Number(r.wallSeconds.toFixed(3)),
    cpuSeconds: Number(r.cpuSeconds.toFixed(3)),
    peakRssBytes: r.peakRss,
    rssBeforeBytes: r.rssBefore,
    tfBytesBetweenStepsMax: r.tfBytesMax,
    tfBytesBefore: r.tfBytesBefore,
  };
  if (kind === 'eval') {
    const e = JSON.parse(fs.readFileSync(path.join(cellDir(out, r.cell.key), EVAL_FILE), 'utf8')) as { wallSeconds: number; n: number };
    return { ...base, evalSecondsPerImage: e.wallSeconds / e.n, evalImages: e.n };
  }
  const preset = baseLrs(r.cell, real, dataset);
  const evalImages = kind === 'target' ? 10 * Math.min(1, real.targetConfig((r.cell.cell as TargetCell).recipe, dataset, 0).evaluation.perClass) : DRY_RUN_WORK.evalCount;
  return {
    ...base,
    batchSize: DRY_RUN_WORK.batchSize,
    ...(lrFactorOf(r.cell) !== 1 ? { lrFactor: lrFactorOf(r.cell) } : {}),
    presetBatchSize: preset.batchSize,
    stepSeconds: r.stepSeconds.map((s) => Number(s.toFixed(3))),
    stepCpuSeconds: r.stepCpuSeconds.map((s) => Number(s.toFixed(3))),
    steps: r.steps,
    ...(r.epochEvalSeconds !== undefined ? { epochEvalSeconds: Number(r.epochEvalSeconds.toFixed(3)), epochEvalImages: evalImages } : {}),
    ...(r.obliviousSeconds !== undefined ? { obliviousSeconds: Number(r.obliviousSeconds.toFixed(3)), obliviousImages: r.obliviousImages } : {}),
  };
}
