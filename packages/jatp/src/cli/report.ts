import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { barChartSvg, markdownTable, readEvalJson } from '../index.js';
// CLI-only helpers: the LABEL=file argument parser and the atomic writer of output files.
import { parseRowArgs } from '../experiments/report.js';
import { writeFileAtomic } from '../models/safetensors.js';

export async function runReport(rowArgs: string[], flags: { out?: string; title: string }): Promise<string> {
  if (rowArgs.length === 0) throw new Error('report: give at least one LABEL=eval.json (from `jatp eval --json`)');
  const rows = parseRowArgs(rowArgs).map(({ label, file }) => ({ label, result: readEvalJson(file) }));
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
    .description('Combine `jatp eval --json` results into a Markdown table (paper Table 1 layout) and an SVG bar chart')
    .argument('<rows...>', 'LABEL=eval.json per defense, in row order (e.g. None=none.json JATP=jatp.json)')
    .option('--out <dir>', 'also write table.md and accuracy.svg into this folder')
    .option('--title <text>', 'chart title', 'Robust accuracy of the full model')
    .action(async (rows: string[], flags: { out?: string; title: string }) => {
      await runReport(rows, flags);
    });
}
