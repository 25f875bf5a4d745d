/**
 * Training until the objective stops improving, with the paper's learning-rate factors.
 *
 * A fixed step count says nothing about whether a pre-processor learnt its job: a purifier stopped
 * after a hundred steps may still be close to the identity. Instead each training runs in phases: the
 * first at the base learning rate, each later one at the next factor of the method's piecewise
 * schedule (e.g. x0.1, then x0.01 for JATP). A phase ends at a plateau — `patience` epochs in a row
 * whose epoch-mean objective is not below the phase's best by at least `minRelativeImprovement` —
 * and the training ends at the plateau of its last phase, or at `maxEpochs` (then "plateau reached"
 * is false, and the report says so).
 *
 * The rule is a pure function of the per-epoch objective history, so a resumed run (whose
 * metrics.jsonl is cut back to its checkpoint) makes the same decisions as an uninterrupted one.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface PlateauRule {
  /** Key of the epoch's training means to watch (the method's own objective, e.g. 'loss', 'mse'). */
  readonly objective: string;
  /** Epochs without a sufficient improvement that end a phase. */
  readonly patience: number;
  /** An epoch improves when its objective is below best x (1 - this). */
  readonly minRelativeImprovement: number;
  /** Learning-rate multipliers of the phases after the first (the paper's schedule factors, in order). */
  readonly lrFactors: readonly number[];
  /** Hard cap on epochs; reaching it without the last plateau means "not converged". */
  readonly maxEpochs: number;
}

export interface PlateauState {
  /** Phase the next epoch runs in (0 = base learning rate). */
  readonly phase: number;
  /** 1-based epochs at which a phase ended (a plateau was detected). */
  readonly plateauEpochs: readonly number[];
  /** The last phase reached its plateau: training is done. */
  readonly converged: boolean;
  /** Learning-rate multiplier of the next epoch. */
  readonly lrMultiplier: number;
}

/** Runs the rule over the epoch objectives seen so far (objectives[i] = epoch i + 1). */
export function plateauState(objectives: readonly number[], rule: PlateauRule): PlateauState {
  let phase = 0;
  let best = Number.POSITIVE_INFINITY;
  let since = 0;
  const plateauEpochs: number[] = [];
  let converged = false;
  for (const [i, o] of objectives.entries()) {
    if (converged) break;
    // A NaN (diverged) epoch never counts as an improvement.
    if (Number.isFinite(o) && (best === Number.POSITIVE_INFINITY || o < best * (1 - rule.minRelativeImprovement) || (best <= 0 && o < best))) {
      best = o;
      since = 0;
    } else {
      since++;
    }
    if (since >= rule.patience) {
      plateauEpochs.push(i + 1);
      if (phase >= rule.lrFactors.length) converged = true;
      else {
        phase++;
        best = Number.POSITIVE_INFINITY;
        since = 0;
      }
    }
  }
  return { phase, plateauEpochs, converged, lrMultiplier: phase === 0 ? 1 : rule.lrFactors[phase - 1]! };
}

/** The per-epoch values of `key` in a run folder's metrics.jsonl ('epoch' records, in order; NaN where missing). */
export function epochObjectives(runDir: string, key: string): number[] {
  const file = path.join(runDir, 'metrics.jsonl');
  if (!fs.existsSync(file)) return [];
  const byEpoch = new Map<number, number>();
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    let r: { type?: string; epoch?: number; train?: Record<string, number> };
    try {
      r = JSON.parse(line) as typeof r;
    } catch {
      continue; // a line cut by a kill: the loop truncates it on resume
    }
    if (r.type !== 'epoch' || typeof r.epoch !== 'number') continue;
    const v = r.train?.[key];
    byEpoch.set(r.epoch, typeof v === 'number' ? v : Number.NaN);
  }
  const n = Math.max(0, ...byEpoch.keys());
  return Array.from({ length: n }, (_, i) => byEpoch.get(i + 1) ?? Number.NaN);
}

/**
 * The learning-rate schedule and the stop test of a plateau-ruled run in `runDir`: both read the
 * epochs finished so far from metrics.jsonl (the loop has written epoch e before epoch e + 1 starts).
 */
export function plateauControl(runDir: string, rule: PlateauRule): { schedule: (epoch1: number) => number; converged: () => boolean } {
  const stateBefore = (epoch1: number) => plateauState(epochObjectives(runDir, rule.objective).slice(0, epoch1 - 1), rule);
  return {
    schedule: (epoch1) => stateBefore(epoch1).lrMultiplier,
    converged: () => plateauState(epochObjectives(runDir, rule.objective), rule).converged,
  };
}
