/**
 * Reads the cells' eval.json files back into the numbers of each panel: one value per seed, their
 * mean and sample standard deviation, the paper's value and our difference to it. Pure reading: the
 * report can be rebuilt at any time, also while an experiment is still running (missing cells are
 * reported as missing).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readEvalJson, type EvalJson } from '../../evaluation/eval-json.js';
import { paperValue, type PaperValue } from '../paper-numbers.js';
import { wilsonInterval, type Interval } from '../../evaluation/statistics.js';
import type { ExperimentName } from './declarations/index.js';
import type { Metric, Panel } from './declarations/types.js';
import { cellDir, resolveEval, type GridContext } from './cells.js';
import { EVAL_FILE } from './scheduler.js';

export interface EntryResult {
  readonly experiment: ExperimentName;
  readonly panel: string;
  readonly row: string;
  readonly group?: string;
  readonly column: string;
  readonly metric: Metric;
  /** Per seed: the value (percent for accuracies and fooling rates, 0–255 L1 otherwise), null while missing. */
  readonly values: (number | null)[];
  readonly mean?: number;
  /** Sample standard deviation over seeds (n − 1); undefined with fewer than 2 seeds. */
  readonly std?: number;
  readonly paper?: PaperValue;
  /** mean − paper.mean. */
  readonly diff?: number;
  /** The eval cells, one per seed. */
  readonly cells: string[];
  /** Test images per seed (null while missing). */
  readonly n?: (number | null)[];
  /**
   * Accuracies and fooling rates: the Wilson 95 % interval (percent) of the count pooled over the
   * finished seeds (images × seeds; it does not include the seed-to-seed spread, the ± does).
   */
  readonly wilson?: Interval;
}

/** Percent metrics (accuracy, fooling rate) are counts of images; L1 distances are not. */
export function isCountMetric(metric: Metric): boolean {
  return metric === 'clean' || metric === 'robust' || metric === 'fooling';
}

/** Wilson interval (percent) of an entry's pooled count, from its per-seed values (percent) and image counts. */
export function pooledWilson(metric: Metric, values: readonly (number | null)[], n: readonly (number | null)[]): Interval | undefined {
  if (!isCountMetric(metric)) return undefined;
  let k = 0;
  let total = 0;
  values.forEach((v, i) => {
    const ni = n[i];
    if (v === null || ni === null || ni === undefined) return;
    k += Math.round((v * ni) / 100);
    total += ni;
  });
  if (total === 0) return undefined;
  const w = wilsonInterval(k, total);
  return { lower: 100 * w.lower, upper: 100 * w.upper };
}

/** A cell's eval.json, or undefined while the cell has not finished. */
export function readCellEval(out: string, key: string): EvalJson | undefined {
  const file = path.join(cellDir(out, key), EVAL_FILE);
  if (!fs.existsSync(file)) return undefined;
  try {
    return readEvalJson(file);
  } catch (err) {
    throw new Error(`cell ${key}: ${(err as Error).message}; run \`jatp experiment\` on this folder again to re-run the cell`);
  }
}

/** The value an entry's metric takes in one cell's evaluation. */
export function metricValue(metric: Metric, e: EvalJson): number | null {
  const a = e.attacks[0];
  switch (metric) {
    case 'clean':
      return 100 * e.cleanAccuracy;
    case 'robust':
      return a ? 100 * a.robustAccuracy : null;
    case 'fooling':
      return a ? 100 * (1 - a.robustAccuracy) : null;
    case 'l1-adv':
      return a?.meanL1AdvVsNaturalAttacked ?? null;
    case 'l1-purified':
      return a?.meanL1PurifiedVsNaturalAttacked ?? null;
  }
}

export function meanStd(values: readonly number[]): { mean?: number; std?: number } {
  if (values.length === 0) return {};
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  if (values.length < 2) return { mean };
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1);
  return { mean, std: Math.sqrt(variance) };
}

export function collectPanel(out: string, ctx: GridContext, experiment: ExperimentName, panel: Panel): EntryResult[] {
  return panel.entries.map((entry) => {
    const keys = entry.cells.map((c) => resolveEval(ctx, c).key);
    const evals = keys.map((k) => readCellEval(out, k));
    const values = evals.map((e) => (e ? metricValue(entry.metric, e) : null));
    const n = evals.map((e) => e?.n ?? null);
    const wilson = pooledWilson(entry.metric, values, n);
    const present = values.filter((v): v is number => v !== null);
    const { mean, std } = meanStd(present);
    const paper = paperValue(experiment, entry.row, entry.group, entry.column);
    return {
      experiment,
      panel: panel.id,
      row: entry.row,
      ...(entry.group !== undefined ? { group: entry.group } : {}),
      column: entry.column,
      metric: entry.metric,
      values,
      ...(mean !== undefined ? { mean } : {}),
      ...(std !== undefined ? { std } : {}),
      ...(paper ? { paper } : {}),
      ...(paper && mean !== undefined ? { diff: mean - paper.mean } : {}),
      cells: keys,
      n,
      ...(wilson ? { wilson } : {}),
    };
  });
}
