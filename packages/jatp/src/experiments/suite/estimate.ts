/**
 * Time estimates for `jatp experiment plan`: a pending cell costs what a finished cell of the same
 * kind cost in this folder (same recipe; same method and examples; same attack, per test image),
 * falling back to a coarser match, and to a built-in prior only when nothing comparable has run yet.
 * A training that has finished epochs is estimated from its own epochs first: the cost of one kind
 * of training can differ by orders of magnitude from another kind of the same method (NRP trained on
 * full-model examples attacks through its purifier at every step; NRP on oblivious ones does not).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cellDir, type DefenseCell, type EvalCell, type GridContext, type ResolvedCell, type TargetCell } from './cells.js';
import type { ScaleName } from './scales.js';

/** Rough seconds on 2 quiet cores with the torch engine; replaced by measurements as cells finish. */
const PRIORS: Record<ScaleName, { target: number; defense: number; evalPerImage: Record<string, number> }> = {
  smoke: { target: 1, defense: 1, evalPerImage: { OBL: 0.02, PGD: 0.02, DLR: 0.02, AA: 0.1, FWA: 0.05, 'TI-BIM': 0.02, BPDA: 0.02 } },
  cpu: { target: 60, defense: 400, evalPerImage: { OBL: 0.02, PGD: 0.05, DLR: 0.05, AA: 0.6, FWA: 0.3, 'TI-BIM': 0.05, BPDA: 0.05 } },
  // Per image: the committed cpu-scale Fashion-MNIST cells (mean over Table 1's rows); OBL is one PGD-40
  // on the target alone plus two forward passes; AA here is APGD-CE + APGD-T with 3 targets (~6 PGD-40).
  evidence: { target: 60, defense: 1500, evalPerImage: { PGD: 0.1, OBL: 0.02, DLR: 0.11, AA: 0.6, FWA: 0.3, 'TI-BIM': 0.1, BPDA: 0.05 } },
  paper: { target: 20 * 3600, defense: 30 * 3600, evalPerImage: { PGD: 0.1, DLR: 0.1, AA: 1, FWA: 0.5, 'TI-BIM': 0.1, BPDA: 0.1 } },
};

function classes(cell: ResolvedCell): string[] {
  const c = cell.cell;
  if (c.kind === 'target') return [`target:${(c as TargetCell).recipe}`, 'target'];
  if (c.kind === 'defense') {
    const d = c as DefenseCell;
    return [`defense:${d.method}:${d.examples ?? ''}:${d.ablation}`, `defense:${d.method}`, 'defense'];
  }
  const e = c as EvalCell;
  return [`eval:${e.attack}:${e.defense?.method ?? 'none'}`, `eval:${e.attack}`];
}

/** Seconds a finished cell took (per test image for evaluations), or undefined. */
function measured(out: string, cell: ResolvedCell): number | undefined {
  const file = path.join(cellDir(out, cell.key), cell.cell.kind === 'eval' ? 'eval.json' : 'done.json');
  if (!fs.existsSync(file)) return undefined;
  let r: { wallSeconds?: number; n?: number };
  try {
    r = JSON.parse(fs.readFileSync(file, 'utf8')) as { wallSeconds?: number; n?: number };
  } catch {
    return undefined; // damaged: the cell will be run again (scheduler.ts damagedCellFile)
  }
  if (typeof r.wallSeconds !== 'number') return undefined;
  return cell.cell.kind === 'eval' ? r.wallSeconds / Math.max(1, r.n ?? 1) : r.wallSeconds;
}

/** A training cell's epochs so far, read from its metrics.jsonl, and the most epochs it may run. */
interface EpochProgress {
  /** Mean wall seconds of a finished epoch. */
  perEpoch: number;
  /** Epochs finished. */
  done: number;
  /** The loop's epoch budget (the plateau rule may end it sooner). */
  maxEpochs: number;
}

function epochProgress(out: string, cell: ResolvedCell): EpochProgress | undefined {
  if (cell.cell.kind === 'eval') return undefined;
  const dir = cellDir(out, cell.key);
  let maxEpochs: number | undefined;
  const seconds = new Map<number, number>(); // by epoch: a resumed run writes an epoch again
  try {
    const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as { loop?: { epochs?: unknown } };
    if (typeof config.loop?.epochs === 'number') maxEpochs = config.loop.epochs;
    for (const line of fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').split('\n')) {
      if (!line.includes('"type":"epoch"')) continue;
      const r = JSON.parse(line) as { epoch?: unknown; seconds?: unknown };
      if (typeof r.epoch === 'number' && typeof r.seconds === 'number') seconds.set(r.epoch, r.seconds);
    }
  } catch {
    return undefined; // not started, or a file cut short by a kill: no progress to read
  }
  if (maxEpochs === undefined || seconds.size === 0) return undefined;
  const total = [...seconds.values()].reduce((a, b) => a + b, 0);
  return { perEpoch: total / seconds.size, done: seconds.size, maxEpochs };
}

/**
 * Seconds a training still needs, from its own epochs: as many epochs as its finished siblings (same
 * kind) ran on average, else its whole budget, at its own mean epoch time. Undefined before its first
 * epoch.
 */
function remainingFromProgress(out: string, cell: ResolvedCell, siblings: readonly ResolvedCell[]): number | undefined {
  const mine = epochProgress(out, cell);
  if (mine === undefined) return undefined;
  const ran = siblings.map((c) => epochProgress(out, c)?.done).filter((d): d is number => d !== undefined);
  const expected = ran.length > 0 ? ran.reduce((a, b) => a + b, 0) / ran.length : mine.maxEpochs;
  const left = Math.min(mine.maxEpochs, Math.max(expected, mine.done + 1)) - mine.done;
  return Math.max(0, left) * mine.perEpoch;
}

/**
 * An attack not yet run on this pre-processor: its per-image time on another model, scaled by how much
 * slower this model was than that one under an attack both have finished (the pre-processor's cost,
 * e.g. JATP's purifier, multiplies every attack's).
 */
function costRatio(cell: EvalCell, finished: readonly { c: ResolvedCell; s: number }[]): number | undefined {
  const method = (e: EvalCell) => e.defense?.method ?? 'none';
  const evals = finished.filter((f) => f.c.cell.kind === 'eval').map((f) => ({ e: f.c.cell as EvalCell, s: f.s }));
  const time = (attack: string, m: string) => evals.find((x) => x.e.attack === attack && method(x.e) === m)?.s;
  for (const other of evals.filter((x) => x.e.attack === cell.attack)) {
    for (const mine of evals.filter((x) => method(x.e) === method(cell))) {
      const base = time(mine.e.attack, method(other.e));
      if (base !== undefined && base > 0) return (other.s * mine.s) / base;
    }
  }
  return undefined;
}

export function estimateSeconds(out: string, ctx: GridContext, cell: ResolvedCell, all: readonly ResolvedCell[]): { seconds: number; basis: 'measured' | 'prior' } {
  const images = cell.cell.kind === 'eval' ? (ctx.evalCount ?? ctx.scale.evalCount ?? 10000) : 1;
  const finished = all.map((c) => ({ c, s: measured(out, c) })).filter((x): x is { c: ResolvedCell; s: number } => x.s !== undefined);
  const exact = classes(cell)[0]!;
  if (cell.cell.kind !== 'eval') {
    const siblings = finished.filter((f) => classes(f.c)[0] === exact).map((f) => f.c);
    const own = remainingFromProgress(out, cell, siblings);
    if (own !== undefined) return { seconds: own, basis: 'measured' };
    if (siblings.length === 0) {
      // Nothing of this kind finished, but others of it are under way: their epoch time, over the budget.
      const started = all.filter((c) => c !== cell && classes(c)[0] === exact).map((c) => epochProgress(out, c)).filter((p): p is EpochProgress => p !== undefined);
      if (started.length > 0) return { seconds: started.reduce((a, p) => a + p.perEpoch * p.maxEpochs, 0) / started.length, basis: 'measured' };
    }
  }
  if (cell.cell.kind === 'eval' && !finished.some((f) => classes(f.c)[0] === exact)) {
    const ratio = costRatio(cell.cell as EvalCell, finished);
    if (ratio !== undefined) return { seconds: images * ratio, basis: 'measured' };
  }
  for (const cls of classes(cell)) {
    const same = finished.filter((f) => classes(f.c).includes(cls));
    if (same.length > 0) return { seconds: (images * same.reduce((a, f) => a + f.s, 0)) / same.length, basis: 'measured' };
  }
  const prior = PRIORS[ctx.scale.name];
  const seconds = cell.cell.kind === 'target' ? prior.target : cell.cell.kind === 'defense' ? prior.defense : images * (prior.evalPerImage[(cell.cell as EvalCell).attack] ?? 0.1);
  return { seconds, basis: 'prior' };
}
