/**
 * A training run folder on disk, apart from checkpoints (checkpoint.ts): config.json, metrics.jsonl,
 * the last/ and best/ weight folders, and the lock that keeps two processes out of one folder.
 *
 *   config.json    what the run is (RunConfigFile): the loop settings and the caller's own config
 *   metrics.jsonl  one JSON object per line: 'step', 'epoch' and 'resume' records
 *   run.lock       {pid, hostname, startedAt} of the process training in the folder now
 *
 * Every write here goes through `RunFolder`, so a caller that must not write (e.g. a non-zero rank
 * of a distributed run) has one place to switch writes off.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Augment } from '../data/pipeline.js';
import { writeFileAtomicSync } from '../io/atomic-write.js';
import type { OptimizerSpec } from './optim.js';

/** The `config.json` a run folder keeps (recipe, loop settings, ...). */
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
    /** Data-parallel runs: the number of ranks and whether batch norm used global statistics. */
    worldSize?: number;
    syncBatchNorm?: boolean;
  };
  config: unknown;
  createdAt: string;
}

/** Where a metrics record sits in the run, to drop what a resumed run will write again. */
export interface LogPosition {
  /** Global steps done. */
  globalStep: number;
  /** Completed epochs. */
  epochsDone: number;
}

const LOCK_FILE = 'run.lock';

/** The `config.json` of a run folder (what `--resume` continues). */
export function readRunConfig(outDir: string): RunConfigFile {
  const file = path.join(outDir, 'config.json');
  if (!fs.existsSync(file)) throw new Error(`${file}: not found (is ${outDir} a training run folder?)`);
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as RunConfigFile;
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${(err as Error).message})`);
  }
}

export interface LockOwner {
  pid: number;
  hostname: string;
  startedAt: string;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readLock(file: string): LockOwner | undefined {
  try {
    const o = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<LockOwner>;
    return typeof o.pid === 'number' && typeof o.hostname === 'string' ? { pid: o.pid, hostname: o.hostname, startedAt: String(o.startedAt) } : undefined;
  } catch {
    return undefined; // cut short by a kill while it was written: nobody can hold it
  }
}

/** The process that holds the lock of `outDir` now, or undefined when none does (or it is stale). */
export function runLockHolder(outDir: string): LockOwner | undefined {
  const file = path.join(outDir, LOCK_FILE);
  if (!fs.existsSync(file)) return undefined;
  const owner = readLock(file);
  const stale = owner === undefined || (owner.hostname === os.hostname() && !processAlive(owner.pid));
  return stale ? undefined : owner;
}

/** Throws, naming the process, when a live process holds the lock of `outDir`. */
export function refuseIfLocked(outDir: string): void {
  const file = path.join(outDir, LOCK_FILE);
  const owner = runLockHolder(outDir);
  if (owner !== undefined) {
    throw new Error(
      `${outDir}: in use by process ${owner.pid} on ${owner.hostname} (training since ${owner.startedAt}); wait for it or stop it, or choose another --out (lock file ${file})`,
    );
  }
}

/** Takes the folder's lock and returns its release, or undefined when a live process holds it. */
export function tryAcquireRunLock(outDir: string): (() => void) | undefined {
  try {
    return acquireRunLock(outDir);
  } catch (err) {
    if (runLockHolder(outDir) !== undefined) return undefined;
    throw err;
  }
}

/**
 * Takes the folder's lock, or throws naming the process that holds it. A lock left behind by a
 * process that no longer runs (killed with SIGKILL, machine crash) is taken over, so it never
 * blocks a resume. A lock taken on another host cannot be checked and is respected.
 */
export function acquireRunLock(outDir: string): () => void {
  const file = path.join(outDir, LOCK_FILE);
  const me: LockOwner = { pid: process.pid, hostname: os.hostname(), startedAt: new Date().toISOString() };
  let taken = false;
  for (let attempt = 0; attempt < 2 && !taken; attempt++) {
    // Written whole under a temp name, then hard-linked: the lock never exists half-written, and
    // link() fails with EEXIST atomically when another process holds it.
    const tmp = `${file}.${process.pid}`;
    fs.writeFileSync(tmp, `${JSON.stringify(me)}\n`);
    try {
      fs.linkSync(tmp, file);
      taken = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      refuseIfLocked(outDir);
      fs.rmSync(file, { force: true }); // left by a process that no longer runs
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }
  if (!taken) throw new Error(`${outDir}: another process took the run folder's lock (${file}) at the same moment; try again`);
  // A hard exit (second Ctrl-C) skips `finally` blocks, not 'exit' listeners.
  const release = (): void => {
    process.off('exit', release);
    if (readLock(file)?.pid === me.pid) fs.rmSync(file, { force: true });
  };
  process.on('exit', release);
  return release;
}

/** config.json, metrics.jsonl and the weight folders of one run. */
export class RunFolder {
  readonly metricsFile: string;
  readonly configFile: string;

  constructor(readonly dir: string) {
    this.metricsFile = path.join(dir, 'metrics.jsonl');
    this.configFile = path.join(dir, 'config.json');
  }

  /** A file of the folder's name is refused with a message instead of a raw EEXIST later. */
  refuseIfNotFolder(): void {
    if (fs.existsSync(this.dir) && !fs.statSync(this.dir).isDirectory()) {
      throw new Error(`${this.dir}: exists and is not a folder; the run needs a folder (choose another --out)`);
    }
  }

  create(): void {
    this.refuseIfNotFolder();
    fs.mkdirSync(this.dir, { recursive: true });
  }

  hasMetrics(): boolean {
    return fs.existsSync(this.metricsFile);
  }

  writeConfig(cfg: RunConfigFile): void {
    writeFileAtomicSync(this.configFile, `${JSON.stringify(cfg, null, 2)}\n`);
  }

  /** Keeps config.json in step with a continued run (e.g. `--epochs` extended on resume). */
  updateConfig(epochs: number, config: unknown): void {
    if (!fs.existsSync(this.configFile)) return;
    const stored = readRunConfig(this.dir);
    if (stored.loop.epochs === epochs && JSON.stringify(stored.config) === JSON.stringify(config)) return;
    this.writeConfig({ ...stored, loop: { ...stored.loop, epochs }, config });
  }

  append(record: unknown): void {
    fs.appendFileSync(this.metricsFile, `${JSON.stringify(record)}\n`);
  }

  /**
   * Drops the metric records written after `at` (the resumed run writes them again) and lines cut
   * by a kill. `at` undefined (a fresh start) drops every step and epoch record.
   */
  truncateMetrics(at: LogPosition | undefined): void {
    if (!this.hasMetrics()) return;
    const kept = fs
      .readFileSync(this.metricsFile, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .filter((l) => {
        let o: { type?: string; globalStep?: number; epoch?: number };
        try {
          o = JSON.parse(l) as typeof o;
        } catch {
          return false;
        }
        if (o.type === 'step') return at !== undefined && (o.globalStep ?? 0) <= at.globalStep;
        if (o.type === 'epoch') return at !== undefined && (o.epoch ?? 0) <= at.epochsDone;
        return true;
      });
    writeFileAtomicSync(this.metricsFile, kept.map((l) => `${l}\n`).join(''));
  }

  /** Replaces `<dir>/<name>` with what `write` produces, via a temp folder: never a half-written folder. */
  async replaceWeights(name: 'last' | 'best', write: (d: string) => void | Promise<void>): Promise<void> {
    const dir = path.join(this.dir, name);
    const tmp = `${dir}.tmp-${process.pid}`;
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.mkdirSync(tmp, { recursive: true });
    await write(tmp);
    const old = `${dir}.old-${process.pid}`;
    if (fs.existsSync(dir)) fs.renameSync(dir, old);
    fs.renameSync(tmp, dir);
    fs.rmSync(old, { recursive: true, force: true });
  }
}
