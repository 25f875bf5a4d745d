/**
 * Turns `jatp eval --json` outputs into what a person would rather look at than read: a Markdown
 * table in the paper's Table 1 layout (one row per defense, one column per attack) and an SVG bar
 * chart of the same numbers. The files are read by eval-json.ts; these are pure functions of their contents: the report can be rebuilt any time.
 */
import * as path from 'node:path';
import type { EvalJson } from './eval-json.js';
import { squareAfterGradientCheck } from './square-check.js';

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

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Grouped bar chart (SVG): one group per column (Natural + attacks), one bar per defense. */
export function barChartSvg(rows: readonly ReportRow[], title: string): string {
  const cols = ['Natural', ...columns(rows)];
  const palette = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7'];
  const barW = 18;
  const groupGap = 26;
  const groupW = rows.length * barW + groupGap;
  const left = 48;
  const top = 40;
  const plotH = 220;
  const width = left + cols.length * groupW + 160;
  const height = top + plotH + 60;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="100%" height="100%" fill="white"/>`);
  parts.push(`<text x="${left}" y="20" font-size="14" font-weight="bold">${escapeXml(title)}</text>`);
  for (let t = 0; t <= 100; t += 20) {
    const y = top + plotH - (plotH * t) / 100;
    parts.push(`<line x1="${left}" x2="${left + cols.length * groupW}" y1="${y}" y2="${y}" stroke="#ddd"/>`);
    parts.push(`<text x="${left - 6}" y="${y + 4}" text-anchor="end">${t}%</text>`);
  }
  cols.forEach((col, c) => {
    const gx = left + c * groupW + groupGap / 2;
    rows.forEach((row, r) => {
      const v = col === 'Natural' ? row.result.cleanAccuracy : row.result.attacks.find((a) => a.attack === col)?.robustAccuracy;
      if (v === undefined) return;
      const h = plotH * v;
      parts.push(
        `<rect x="${gx + r * barW}" y="${top + plotH - h}" width="${barW - 2}" height="${h}" fill="${palette[r % palette.length]}"><title>${escapeXml(`${row.label} / ${col}: ${pct(v)}%`)}</title></rect>`,
      );
    });
    parts.push(`<text x="${gx + (rows.length * barW) / 2}" y="${top + plotH + 18}" text-anchor="middle">${escapeXml(col)}</text>`);
  });
  rows.forEach((row, r) => {
    const lx = left + cols.length * groupW + 20;
    const ly = top + 10 + r * 20;
    parts.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${palette[r % palette.length]}"/>`);
    parts.push(`<text x="${lx + 18}" y="${ly}">${escapeXml(row.label)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/** `label=file.json` pairs from the command line. */
export function parseRowArgs(args: readonly string[]): { label: string; file: string }[] {
  return args.map((arg) => {
    const eq = arg.indexOf('=');
    if (eq <= 0) return { label: path.basename(arg, '.json'), file: arg };
    return { label: arg.slice(0, eq), file: arg.slice(eq + 1) };
  });
}
