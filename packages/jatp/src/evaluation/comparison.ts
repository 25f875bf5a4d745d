/**
 * Turns `jatp eval --json` outputs into what a person would rather look at than read: a Markdown
 * table in the paper's Table 1 layout (one row per defense, one column per attack) and an SVG bar
 * chart of the same numbers. The files are read by eval-json.ts; these are pure functions of their contents: the report can be rebuilt any time.
 */
import * as path from 'node:path';
import type { EvalJson } from './eval-json.js';
import { squareAfterGradientCheck } from './square-check.js';
import { groupedBarsSvg } from './svg-charts.js';

/** One row of a comparison table (`markdownTable`, `barChartSvg`): a label and its eval JSON. */
export interface ReportRow {
  /** Row label, e.g. 'None', 'JATP', 'APE-G'. */
  label: string;
  result: EvalJson;
}

function columns(rows: readonly ReportRow[]): string[] {
  const cols: string[] = [];
  for (const row of rows) for (const a of row.result.attacks) if (!cols.includes(a.attack)) cols.push(a.attack);
  return cols;
}

const pct = (v: number | undefined): string => (v === undefined ? '–' : (100 * v).toFixed(2));

/** Markdown table: rows = defenses, columns = Natural + attacks (robust accuracy, %). */
export function markdownTable(rows: readonly ReportRow[]): string {
  const cols = columns(rows);
  const head = ['Defense', 'Natural', ...cols];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
  for (const row of rows) {
    const byName = new Map(row.result.attacks.map((a) => [a.attack, a.robustAccuracy]));
    lines.push(`| ${[row.label, pct(row.result.cleanAccuracy), ...cols.map((c) => pct(byName.get(c)))].join(' | ')} |`);
  }
  const first = rows[0]?.result;
  if (first) {
    lines.push('');
    lines.push(`Accuracy (%) of the full model on the first ${first.n} ${first.dataset} test images; ${first.norm} ε = ${first.eps.toFixed(4)}; adaptive attacks (gradients through the pre-processor) unless marked bpda.`);
  }
  // AutoAttack's own warning, for every row whose JSON recorded the stages.
  for (const row of rows) {
    for (const a of row.result.attacks) {
      const check = squareAfterGradientCheck(a.stages, row.result.n);
      if (check?.warn) lines.push('', `**Warning** (${row.label}, ${a.attack}): ${check.message}.`);
    }
  }
  return lines.join('\n');
}

/** Grouped bar chart (SVG, evaluation/svg-charts.ts): one group per column (Natural + attacks), one bar per defense, accuracy in %. */
export function barChartSvg(rows: readonly ReportRow[], title: string): string {
  const cols = ['Natural', ...columns(rows)];
  const accuracy = (row: ReportRow, col: string): number | undefined =>
    col === 'Natural' ? row.result.cleanAccuracy : row.result.attacks.find((a) => a.attack === col)?.robustAccuracy;
  return groupedBarsSvg({
    title,
    groups: cols,
    series: rows.map((r) => r.label),
    unit: '%',
    value: (col, label) => {
      const v = accuracy(rows.find((r) => r.label === label)!, col);
      return v === undefined ? undefined : { mean: 100 * v };
    },
  });
}

/** `label=file.json` pairs from the command line. */
export function parseRowArgs(args: readonly string[]): { label: string; file: string }[] {
  return args.map((arg) => {
    const eq = arg.indexOf('=');
    if (eq <= 0) return { label: path.basename(arg, '.json'), file: arg };
    return { label: arg.slice(0, eq), file: arg.slice(eq + 1) };
  });
}
