import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { barChartSvg, markdownTable, readEvalJson, writeFileAtomic, writeReport, type EvalJson } from '../index.js';
// CLI-only helper: the LABEL=file argument parser.
import { parseRowArgs } from '../evaluation/comparison.js';
import { checkOutputDir } from './output-paths.js';

/**
 * One table is captioned with one dataset, n, norm and ε: evaluations that differ in any of them
 * are refused, naming the two files and the field, rather than shown as if comparable.
 */
function checkComparable(rows: readonly { label: string; file: string; result: EvalJson }[]): void {
  const first = rows[0];
  if (!first) return;
  const fields: [string, (r: EvalJson) => unknown][] = [
    ['dataset', (r) => r.leaderboard?.dataset ?? r.dataset],
    ['n', (r) => r.n],
    ['norm', (r) => r.norm],
    ['eps', (r) => r.eps],
  ];
  for (const row of rows.slice(1)) {
    for (const [name, get] of fields) {
      const a = get(first.result);
      const b = get(row.result);
      if (a !== b) {
        throw new Error(`report: '${row.file}' (${row.label}) has ${name} ${JSON.stringify(b)}, '${first.file}' (${first.label}) has ${JSON.stringify(a)}; one table needs evaluations with the same dataset, n, norm and eps`);
      }
    }
  }
}

export async function runReport(rowArgs: string[], flags: { out?: string; title: string }): Promise<string> {
  if (rowArgs.length === 0) throw new Error('report: give an experiment folder (from `jatp experiment`) or LABEL=eval.json pairs (from `jatp eval --json`)');
  // `jatp report <exp-dir>`: rebuild an experiment's HTML report from its run folders.
  if (rowArgs.length === 1 && fs.existsSync(path.join(rowArgs[0]!, 'experiment.json'))) {
    const index = await writeReport(rowArgs[0]!);
    process.stdout.write(`${index}\n`);
    return index;
  }
  if (flags.out) checkOutputDir(flags.out, '--out');
  const parsed = parseRowArgs(rowArgs).map(({ label, file }) => ({ label, file, result: readEvalJson(file) }));
  checkComparable(parsed);
  const rows = parsed.map(({ label, result }) => ({ label, result }));
  const table = markdownTable(rows);
  if (flags.out) {
    fs.mkdirSync(flags.out, { recursive: true });
    await writeFileAtomic(path.join(flags.out, 'table.md'), `${table}\n`);
    await writeFileAtomic(path.join(flags.out, 'accuracy.svg'), `${barChartSvg(rows, flags.title)}\n`);
    process.stderr.write(`wrote ${path.join(flags.out, 'table.md')} and ${path.join(flags.out, 'accuracy.svg')}\n`);
  }
  process.stdout.write(`${table}\n`);
  return table;
}

export function register(program: Command): void {
  program
    .command('report')
    .description('Rebuild an experiment folder\'s report (jatp report runs/exp), or combine `jatp eval --json` results into a Markdown table and an SVG bar chart')
    .argument('<rows...>', 'an experiment folder, or LABEL=eval.json per defense in row order (e.g. None=none.json JATP=jatp.json)')
    .option('--out <dir>', 'also write table.md and accuracy.svg into this folder')
    .option('--title <text>', 'chart title', 'Robust accuracy of the full model')
    .action(async (rows: string[], flags: { out?: string; title: string }) => {
      await runReport(rows, flags);
    });
}
