/**
 * The one scheduler: runs the cells of a grid in order, each in its run folder under `<out>/cells/`.
 * A finished cell has `done.json` (training) or `eval.json` (evaluation) and is skipped; an
 * unfinished training continues from its newest checkpoint (the training loop's resume); an
 * interrupted scheduler (Ctrl-C during training) stops after the checkpoint and is continued by the
 * same command. `<out>/experiment.json` records what the folder is for and every command run on it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { provenance, type Provenance } from 'tfjs-backend-torch/provenance';
import type { Dataset } from '../../data/types.js';
import { loadDataset } from '../../data/load-dataset.js';
import { firstN } from '../../data/subset.js';
import { writeFileAtomic } from '../../io/atomic-write.js';
import { trainTarget } from '../../targets/train.js';
import { silentProgress, type ProgressSink } from '../../training/progress.js';
import { trainDefense } from '../../defenses/train.js';
import { runLockHolder, tryAcquireRunLock } from '../../training/run-folder.js';
import { evaluate } from '../../evaluation/evaluate.js';
import { readEvalJson, writeEvalJson, type EvalJson } from '../../evaluation/eval-json.js';
import { loadPipeline } from '../../evaluation/load-pipeline.js';
import type { ExperimentName } from './declarations/index.js';
import { cellDir, type DefenseCell, type EvalCell, type GridContext, type ResolvedCell, type TargetCell } from './cells.js';
import { buildGrid, withAttacks, withCells, type Grid } from './grid.js';
import { SCALE_SETTINGS, attackSpec, datasetEps, type AttackColumn, type ScaleName, type ScaleSettings } from './scales.js';
import { dryRunScale } from './dry-run-scale.js';
import { evaluateOblivious } from './oblivious.js';
import { writeGallery } from './gallery.js';
import { estimateSeconds } from './estimate.js';

/** Options of `runSuite`: folder, scale, dataset, seeds, test-image count, experiments, command line, logging. */
export interface SuiteOptions {
  readonly out: string;
  readonly scale: ScaleName;
  readonly dataset: string;
  readonly dataDir?: string;
  readonly seeds: number;
  readonly evalCount?: number;
  readonly experiments: readonly ExperimentName[];
  /** Run only these attack columns' evaluations (the trainings they need still run); default all. */
  readonly attacks?: readonly AttackColumn[];
  /** Run only the evaluations whose keys match one of these patterns ('*' = anything) and the trainings they need; default all. */
  readonly cells?: readonly string[];
  /** The command line, recorded in the manifest and the report. */
  readonly command?: string;
  /** Human progress lines (stderr in the CLI). */
  readonly log?: (line: string) => void;
  /** Training progress (bars); default silent. */
  readonly progress?: ProgressSink;
  readonly backend?: string;
  /** Set by the dry run (dry-run.ts): its settings, its subset of cells, and hooks around each cell. */
  readonly dryRun?: DryRunHooks;
}

/** How the dry run drives the scheduler; real runs leave it out. */
export interface DryRunHooks {
  readonly scale: ScaleSettings;
  /** The cells to run, from the experiment's grid. */
  select(grid: Grid): ResolvedCell[];
  /** A training cell that starts fresh stops (after its checkpoint) once this many steps are done, so the next call resumes it. */
  readonly interruptAfterSteps: number;
  /** Called before a cell runs; returns the progress sink its training reports to. */
  cellStarted(cell: ResolvedCell): ProgressSink;
  /** Called after a cell ran (also after an interrupted training); awaited before the next cell. */
  cellFinished(cell: ResolvedCell, interrupted: boolean): void | Promise<void>;
}
export interface Manifest {
  readonly scale: ScaleName;
  readonly dataset: string;
  readonly dataDir?: string;
  readonly seeds: number;
  readonly evalCount?: number;
  readonly experiments: ExperimentName[];
  /** A dry run's folder (shrunken paper settings): never mixed with a real run. */
  readonly dryRun?: boolean;
  /** Each invocation, with the commit, engine build and CPU it ran on (`provenance`, absent in folders older than that field). */
  readonly runs: { command: string; started: string; pid?: number; finished?: string; backend?: string; provenance?: Provenance; trained: number; evaluated: number; interrupted?: boolean; leftToOthers?: number }[];
}

export const MANIFEST = 'experiment.json';
export const TRAINING_DONE = 'done.json';
export const EVAL_FILE = 'eval.json';

export function readManifest(out: string): Manifest | undefined {
  const file = path.join(out, MANIFEST);
  if (!fs.existsSync(file)) return undefined;
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Manifest;
  } catch (err) {
    throw new Error(`${file}: not readable JSON (${(err as Error).message})`);
  }
}

export function gridContext(m: Pick<Manifest, 'scale' | 'dataset' | 'evalCount' | 'dryRun'>): GridContext {
  return { scale: m.dryRun ? dryRunScale(SCALE_SETTINGS[m.scale]) : SCALE_SETTINGS[m.scale], dataset: m.dataset, ...(m.evalCount !== undefined ? { evalCount: m.evalCount } : {}) };
}

export type CellState = 'done' | 'partial' | 'pending';

/** The file whose presence marks a cell finished: `eval.json` or `done.json`. */
export function finishedFile(out: string, cell: ResolvedCell): string {
  return path.join(cellDir(out, cell.key), cell.cell.kind === 'eval' ? EVAL_FILE : TRAINING_DONE);
}

/**
 * Why a cell's finished file cannot be read (cut short by a full disk, edited by hand), or undefined
 * when it is absent or readable. Such a cell counts as unfinished and is run again.
 */
export function damagedCellFile(out: string, cell: ResolvedCell): string | undefined {
  const file = finishedFile(out, cell);
  if (!fs.existsSync(file)) return undefined;
  try {
    if (cell.cell.kind === 'eval') readEvalJson(file);
    else JSON.parse(fs.readFileSync(file, 'utf8'));
    return undefined;
  } catch (err) {
    const message = (err as Error).message;
    return message.startsWith(file) ? message : `${file}: ${message}`;
  }
}

export function cellState(out: string, cell: ResolvedCell): CellState {
  const dir = cellDir(out, cell.key);
  if (fs.existsSync(finishedFile(out, cell)) && damagedCellFile(out, cell) === undefined) return 'done';
  return fs.existsSync(dir) ? 'partial' : 'pending';
}

/** The manifest after checking that `out` is not a folder of another scale/dataset. */
function updatedManifest(opts: SuiteOptions, existing: Manifest | undefined): Manifest {
  if (existing && (existing.scale !== opts.scale || existing.dataset !== opts.dataset)) {
    throw new Error(`--out ${opts.out}: holds a '${existing.scale}' experiment on '${existing.dataset}'; use another --out for --scale ${opts.scale} --dataset ${opts.dataset}`);
  }
  if (existing && (existing.dryRun === true) !== (opts.dryRun !== undefined)) {
    throw new Error(`--out ${opts.out}: holds a ${existing.dryRun ? 'dry run' : 'real run'}; use another --out for ${opts.dryRun ? 'the dry run' : 'a real run'}`);
  }
  const experiments = [...new Set([...(existing?.experiments ?? []), ...opts.experiments])];
  return {
    scale: opts.scale,
    dataset: opts.dataset,
    ...(opts.dataDir !== undefined ? { dataDir: opts.dataDir } : existing?.dataDir !== undefined ? { dataDir: existing.dataDir } : {}),
    seeds: Math.max(opts.seeds, existing?.seeds ?? 0),
    ...(opts.evalCount !== undefined ? { evalCount: opts.evalCount } : existing?.evalCount !== undefined ? { evalCount: existing.evalCount } : {}),
    experiments,
    ...(opts.dryRun ? { dryRun: true } : {}),
    runs: existing?.runs ?? [],
  };
}

/** One line of `planGrid`: cell key, kind, state, estimated seconds and where the estimate comes from. */
export interface PlanLine {
  readonly key: string;
  readonly kind: 'target' | 'defense' | 'eval';
  readonly state: CellState;
  readonly seconds: number;
  /** Where the estimate comes from: measured on a finished cell of this folder, or a built-in prior. */
  readonly basis: 'measured' | 'prior' | 'done';
}

/** The cells of the named experiments with their state (done / partial / pending) and a time estimate, without running anything. */
export function planGrid(opts: Pick<SuiteOptions, 'out' | 'scale' | 'dataset' | 'seeds' | 'evalCount' | 'experiments' | 'attacks' | 'cells'>): { grid: Grid; lines: PlanLine[] } {
  const ctx: GridContext = { scale: SCALE_SETTINGS[opts.scale], dataset: opts.dataset, ...(opts.evalCount !== undefined ? { evalCount: opts.evalCount } : {}) };
  const grid = withCells(withAttacks(buildGrid(ctx, opts.experiments, opts.seeds), opts.attacks), opts.cells);
  const all = [...grid.trainings, ...grid.evaluations];
  const lines = all.map((cell) => {
    const state = cellState(opts.out, cell);
    const est = state === 'done' ? { seconds: 0, basis: 'done' as const } : estimateSeconds(opts.out, ctx, cell, all);
    return { key: cell.key, kind: cell.cell.kind, state, seconds: est.seconds, basis: est.basis };
  });
  return { grid, lines };
}

/** What `runSuite` did: trainings and evaluations run, cells skipped, whether it was interrupted. */
export interface SuiteResult {
  readonly trained: number;
  readonly evaluated: number;
  readonly skipped: number;
  /** Cells another process on the same folder was running (or training the inputs of) when this one reached them. */
  readonly leftToOthers: number;
  readonly interrupted: boolean;
  readonly grid: Grid;
}

function stamp(): string {
  return new Date().toISOString().slice(11, 19);
}

/** Runs the cells of the named experiments in `out` (shared cells once, finished ones skipped, interrupted ones continued). */
export async function runSuite(opts: SuiteOptions): Promise<SuiteResult> {
  const log = opts.log ?? (() => {});
  fs.mkdirSync(path.join(opts.out, 'cells'), { recursive: true });
  const manifest = updatedManifest(opts, readManifest(opts.out));
  const run: Manifest['runs'][number] = { command: opts.command ?? '', started: new Date().toISOString(), pid: process.pid, ...(opts.backend ? { backend: opts.backend } : {}), provenance: provenance(), trained: 0, evaluated: 0 };
  // Several processes may run on one folder (see below), so each save re-reads the manifest and
  // replaces only this run's record: nobody's record is lost to another's older copy.
  const saveManifest = () => {
    const current = readManifest(opts.out);
    const runs = (current?.runs ?? manifest.runs).filter((r) => !(r.pid === run.pid && r.started === run.started));
    return writeFileAtomic(path.join(opts.out, MANIFEST), `${JSON.stringify({ ...manifest, runs: [...runs, run] }, null, 1)}\n`);
  };
  await saveManifest();

  const ctx = opts.dryRun ? { ...gridContext(manifest), scale: opts.dryRun.scale } : gridContext(manifest);
  const scale = ctx.scale;
  const grid = withCells(withAttacks(buildGrid(ctx, opts.experiments, opts.seeds), opts.attacks), opts.cells);
  const dataDir = opts.dataDir ?? manifest.dataDir;
  let dataset: Dataset | undefined;
  const data = async (): Promise<Dataset> => (dataset ??= await loadDataset(opts.dataset, dataDir !== undefined ? { dataDir } : {}));
  const all = opts.dryRun ? opts.dryRun.select(grid) : [...grid.trainings, ...grid.evaluations];
  let skipped = 0;
  let leftToOthers = 0;
  let interrupted = false;
  const queue = [...all];
  const movedAhead = new Set<string>();
  for (let i = 0; i < queue.length; i++) {
    if (queue[i]!.cell.kind !== 'eval') {
      // An evaluation whose trainings are all done (e.g. by a second process) runs before the next
      // training: the finished pre-processors' results appear while long trainings are still ahead.
      const ready = queue.findIndex(
        (c, j) => j > i && c.cell.kind === 'eval' && !movedAhead.has(c.key) && cellState(opts.out, c) !== 'done' && c.needs.every((n) => cellState(opts.out, n) === 'done') && runLockHolder(cellDir(opts.out, c.key)) === undefined,
      );
      if (ready > i) {
        const [e] = queue.splice(ready, 1);
        movedAhead.add(e!.key);
        queue.splice(i, 0, e!);
      }
    }
    const cell = queue[i]!;
    const dir = cellDir(opts.out, cell.key);
    if (cellState(opts.out, cell) === 'done') {
      skipped++;
      continue;
    }
    const damaged = damagedCellFile(opts.out, cell);
    if (damaged !== undefined && runLockHolder(dir) === undefined) {
      // Kept aside for a post-mortem, out of the way of the re-run.
      log(`[${stamp()}] (${i + 1}/${all.length}) cell ${cell.key}: ${damaged}; running the cell again (the damaged file is kept as ${path.basename(finishedFile(opts.out, cell))}.damaged)`);
      fs.renameSync(finishedFile(opts.out, cell), `${finishedFile(opts.out, cell)}.damaged`);
    }
    // Another process running on the same folder (a second `jatp experiment` started to use more
    // cores) holds this cell, or is still training a cell this one needs: leave it to that process.
    const busy = runLockHolder(dir) ?? cell.needs.map((need) => runLockHolder(cellDir(opts.out, need.key))).find((h) => h !== undefined);
    const unmet = cell.needs.find((need) => cellState(opts.out, need) !== 'done');
    if (busy !== undefined || unmet !== undefined) {
      log(`[${stamp()}] (${i + 1}/${all.length}) leaving ${cell.key} to ${busy ? `process ${busy.pid}` : `whoever trains ${unmet!.key}`}`);
      leftToOthers++;
      continue;
    }
    log(`[${stamp()}] (${i + 1}/${all.length}) ${cell.cell.kind === 'eval' ? 'evaluating' : 'training'} ${cell.key}`);
    const started = Date.now();
    const fresh = cellState(opts.out, cell) === 'pending';
    const progress = opts.dryRun ? opts.dryRun.cellStarted(cell) : (opts.progress ?? silentProgress);
    const stop = opts.dryRun && fresh ? { stopAfterSteps: opts.dryRun.interruptAfterSteps } : {};
    if (cell.cell.kind === 'target') {
      const config = { ...scale.targetConfig((cell.cell as TargetCell).recipe, opts.dataset, cell.cell.seed), ...(dataDir !== undefined ? { dataDir } : {}) };
      const r = await trainTarget({ config, out: dir, resume: true, progress, dataset: await data(), ...stop });
      if (r.summary.interrupted) interrupted = true;
      else await writeDone(dir, cell, (Date.now() - started) / 1000, r.summary);
    } else if (cell.cell.kind === 'defense') {
      const d = cell.cell as DefenseCell;
      const config = scale.defenseConfig(d.method, opts.dataset, d.examples, d.ablation);
      const r = await trainDefense({
        method: d.method,
        preset: config.preset,
        target: cellDir(opts.out, cell.needs[0]!.key),
        dataset: opts.dataset,
        ...(dataDir !== undefined ? { dataDir } : {}),
        out: dir,
        seed: d.seed,
        config,
        cacheDir: path.join(opts.out, 'cells', '.example-cache'),
        resume: true,
        progress,
        ...stop,
      });
      if (r.summary.interrupted) interrupted = true;
      else await writeDone(dir, cell, (Date.now() - started) / 1000, r.summary);
    } else {
      fs.mkdirSync(dir, { recursive: true });
      const release = tryAcquireRunLock(dir);
      if (release === undefined) {
        log(`[${stamp()}] (${i + 1}/${all.length}) leaving ${cell.key} to the process that just took it`);
        leftToOthers++;
        continue;
      }
      try {
        await runEvalCell(opts.out, ctx, cell as ResolvedCell<EvalCell>, await data(), opts.backend);
      } finally {
        release();
      }
      run.evaluated++;
    }
    await opts.dryRun?.cellFinished(cell, interrupted);
    if (interrupted) {
      log(`[${stamp()}] interrupted during ${cell.key}; run the same command again to continue`);
      break;
    }
    if (cell.cell.kind !== 'eval') run.trained++;
    await saveManifest();
  }
  run.finished = new Date().toISOString();
  if (interrupted) run.interrupted = true;
  if (leftToOthers > 0) {
    run.leftToOthers = leftToOthers;
    log(`[${stamp()}] ${leftToOthers} cell(s) were left to other processes; when they finish, run the same command again to check and write the report`);
  }
  await saveManifest();
  return { trained: run.trained, evaluated: run.evaluated, skipped, leftToOthers, interrupted, grid };
}

async function writeDone(dir: string, cell: ResolvedCell, seconds: number, summary: unknown): Promise<void> {
  // wallSeconds covers the session that finished the cell (a resumed cell's summary names its checkpoint).
  await writeFileAtomic(path.join(dir, TRAINING_DONE), `${JSON.stringify({ key: cell.key, settings: cell.settings, wallSeconds: seconds, summary, finishedAt: new Date().toISOString() }, null, 1)}\n`);
}

/** One attack on one full model; writes `eval.json` (and the image grid for the PGD column). */
async function runEvalCell(out: string, ctx: GridContext, cell: ResolvedCell<EvalCell>, dataset: Dataset, backend: string | undefined): Promise<void> {
  const dir = cellDir(out, cell.key);
  fs.mkdirSync(dir, { recursive: true });
  const c = cell.cell;
  const targetDir = cellDir(out, cell.needs[0]!.key);
  const defenseDir = c.defense ? cellDir(out, cell.needs[1]!.key) : undefined;
  const n = ctx.evalCount ?? ctx.scale.evalCount;
  const split = n === undefined ? dataset.test : firstN(dataset.test, Math.min(n, dataset.test.count));
  const spec = attackSpec(ctx.scale, c.attack);
  const eps = datasetEps(ctx.dataset);
  const pipeline = await loadPipeline({ model: targetDir, ...(defenseDir ? { preprocessor: defenseDir } : {}) });
  const started = Date.now();
  if (c.attack === 'OBL') {
    // Examples made against T alone (its own pipeline), scored on T and on the full model.
    const targetOnly = await loadPipeline({ model: targetDir });
    try {
      const report = evaluateOblivious(targetOnly.model.logits, pipeline.model.logits, pipeline.model.preprocess, split, {
        attack: ctx.scale.buildAttack(spec, eps, 'Linf'),
        attackName: `obl-${spec.text}`,
        batchSize: ctx.scale.evalBatchSize,
        seed: c.seed,
      });
      const payload = { key: cell.key, settings: cell.settings, ...pipeline.describe, dataset: dataset.name, backend: backend ?? tf.getBackend(), wallSeconds: (Date.now() - started) / 1000, finishedAt: new Date().toISOString(), eps, norm: 'Linf', ...report };
      await writeFileAtomic(path.join(dir, EVAL_FILE), `${JSON.stringify(payload)}\n`);
    } finally {
      targetOnly.dispose();
      pipeline.dispose();
    }
    return;
  }
  try {
    const report = evaluate(pipeline.model, split, {
      attacks: [spec],
      eps,
      norm: 'Linf',
      batchSize: ctx.scale.evalBatchSize,
      seed: c.seed,
      build: ctx.scale.buildAttack,
      // Finished (attack, batch) results: a killed evaluation resumes from here.
      statePath: path.join(dir, 'eval-state.json'),
    });
    if (c.attack === 'PGD') {
      writeGallery(dir, pipeline.model, firstN(dataset.test, ctx.scale.galleryCount), dataset.classNames, ctx.scale.buildAttack(spec, eps, 'Linf'), c.seed);
    }
    const doc: EvalJson = {
      key: cell.key,
      settings: cell.settings,
      ...pipeline.describe,
      dataset: dataset.name,
      backend: backend ?? tf.getBackend(),
      wallSeconds: (Date.now() - started) / 1000,
      finishedAt: new Date().toISOString(),
      ...report,
    };
    writeEvalJson(path.join(dir, EVAL_FILE), doc);
  } finally {
    pipeline.dispose();
  }
}
