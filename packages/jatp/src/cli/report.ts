import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { barChartSvg, markdownTable, readEvalJson, writeReport } from '../index.js';
// CLI-only helpers: the LABEL=file argument parser and the atomic writer of output files.
import { parseRowArgs } from '../evaluation/comparison.js';
import { writeFileAtomic } from '../io/atomic-write.js';

export async function runReport(rowArgs: string[], flags: { out?: string; title: string }): Promise<string> {
  if (rowArgs.length === 0) throw new Error('report: give an experiment folder (from `jatp experiment`) or LABEL=eval.json pairs (from `jatp eval --json`)');
  // `jatp report <exp-dir>`: rebuild an experiment's HTML report from its run folders.
  if (rowArgs.length === 1 && fs.existsSync(path.join(rowArgs[0]!, 'experiment.json'))) {
    const index = await writeReport(rowArgs[0]!);
    process.stdout.write(`${index}\n`);
    return index;
  }
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
    .description('Rebuild an experiment folder\'s report (jatp report runs/exp), or combine `jatp eval --json` results into a Markdown table and an SVG bar chart')
    .argument('<rows...>', 'an experiment folder, or LABEL=eval.json per defense in row order (e.g. None=none.json JATP=jatp.json)')
    .option('--out <dir>', 'also write table.md and accuracy.svg into this folder')
    .option('--title <text>', 'chart title', 'Robust accuracy of the full model')
    .action(async (rows: string[], flags: { out?: string; title: string }) => {
      await runReport(rows, flags);
    });
}
