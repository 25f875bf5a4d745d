/**
 * `jatp experiment <table1|table2|fig1|fig4a|fig4b|all> --scale <smoke|cpu|evidence|paper> --dataset <name>`:
 * runs the paper's experiments through the experiments module's scheduler (cells shared between
 * experiments run once; finished cells are skipped; an interrupted one continues), then rebuilds the
 * report. `jatp experiment plan <name> ...` lists the cells, which are done, and a time estimate.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import {
  ATTACK_COLUMNS,
  type AttackColumn,
  EXPERIMENT_NAMES,
  EXTRA_EXPERIMENT_NAMES,
  SCALES,
  canonicalName,
  initBackend,
  parseExperimentNames,
  parseScale,
  planGrid,
  runSuite,
  stderrProgress,
  writeReport,
  type PlanLine,
} from '../index.js';
import { parseInteger } from './flags.js';

export interface ExperimentFlags {
  scale: string;
  dataset: string;
  dataDir?: string;
  seeds: string;
  n?: string;
  out?: string;
  quiet?: boolean;
  attacks?: string;
}

/** The experiment flags checked and resolved (defaults filled in); bad values name their flag. */
export function resolveExperimentFlags(flags: ExperimentFlags) {
  const scale = parseScale(flags.scale);
  const dataset = flags.dataset.startsWith('folder:') ? flags.dataset : canonicalName(flags.dataset);
  const seeds = parseInteger('--seeds', flags.seeds, { min: 1 });
  const evalCount = flags.n !== undefined ? parseInteger('--n', flags.n, { min: 1 }) : undefined;
  const out = flags.out ?? path.join('runs', `exp-${scale}-${dataset.replace(/[^a-z0-9-]/gi, '_')}`);
  const attacks = flags.attacks !== undefined ? parseAttackColumns(flags.attacks) : undefined;
  return { scale, dataset, seeds, out, ...(evalCount !== undefined ? { evalCount } : {}), ...(flags.dataDir !== undefined ? { dataDir: flags.dataDir } : {}), ...(attacks ? { attacks } : {}) };
}

/** '--attacks PGD,OBL' -> ['PGD', 'OBL'], with an error naming the valid columns. */
export function parseAttackColumns(text: string): AttackColumn[] {
  const list = text.split(',').map((s) => s.trim()).filter(Boolean);
  for (const a of list) if (!(ATTACK_COLUMNS as readonly string[]).includes(a)) throw new Error(`--attacks: '${a}' is not one of ${ATTACK_COLUMNS.join(', ')}`);
  if (list.length === 0) throw new Error(`--attacks: name at least one of ${ATTACK_COLUMNS.join(', ')}`);
  return list as AttackColumn[];
}

function duration(s: number): string {
  if (s < 90) return `${s.toFixed(0)} s`;
  if (s < 5400) return `${(s / 60).toFixed(0)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

export function formatPlan(lines: readonly PlanLine[]): string {
  const out: string[] = [];
  for (const l of lines) out.push(`${l.state.padEnd(7)} ${l.kind.padEnd(7)} ${l.key}${l.state === 'done' ? '' : `  ~${duration(l.seconds)}${l.basis === 'prior' ? ' (prior guess)' : ''}`}`);
  const pending = lines.filter((l) => l.state !== 'done');
  const measured = pending.filter((l) => l.basis === 'measured');
  const total = pending.reduce((a, l) => a + l.seconds, 0);
  out.push('');
  out.push(`${lines.length} cells: ${lines.length - pending.length} done, ${pending.length} to run; estimated ${duration(total)} (${measured.length} estimates from finished cells in this folder, ${pending.length - measured.length} from built-in priors)`);
  return out.join('\n');
}

export async function runExperimentPlan(name: string, flags: ExperimentFlags): Promise<PlanLine[]> {
  const r = resolveExperimentFlags(flags);
  const { lines } = planGrid({ ...r, experiments: parseExperimentNames(name) });
  process.stdout.write(`${formatPlan(lines)}\n`);
  return lines;
}

export async function runExperiment(name: string, flags: ExperimentFlags, argv: readonly string[] = process.argv): Promise<{ report: string; interrupted: boolean }> {
  const r = resolveExperimentFlags(flags);
  const experiments = parseExperimentNames(name);
  const backend = await initBackend();
  const log = flags.quiet ? () => {} : (line: string) => process.stderr.write(`${line}\n`);
  const command = ['jatp', ...argv.slice(2)].join(' ');
  const result = await runSuite({ ...r, experiments, command, backend, log, ...(flags.quiet ? {} : { progress: stderrProgress() }) });
  const report = await writeReport(r.out);
  log(`${result.trained} trainings and ${result.evaluated} evaluations run, ${result.skipped} cells already done${result.interrupted ? '; interrupted: run the same command again to continue' : ''}`);
  return { report, interrupted: result.interrupted };
}

export function register(program: Command): void {
  program
    .command('experiment')
    .description("run the paper's tables and figures (cells shared and resumable), then write the HTML report; 'plan' lists the cells first")
    .argument('<name>', `${[...EXPERIMENT_NAMES, ...EXTRA_EXPERIMENT_NAMES].join(' | ')} | all | plan`)
    .argument('[planned]', "with 'plan': the experiment to plan")
    .option('--scale <scale>', `${SCALES.join(' | ')} (smoke: tiny nets, seconds; cpu: ~1 h per table on 2 cores; evidence: cpu nets trained to a plateau, 1,000 images; paper: the paper's settings, for a GPU)`, 'cpu')
    .option('--dataset <name>', 'fashion-mnist | cifar10 | svhn | folder:<path>', 'fashion-mnist')
    .option('--data-dir <dir>', 'folder holding the dataset files (e.g. the JPEG-derived CIFAR-10 copy)')
    .option('--seeds <n>', 'repeat training and attack randomness n times (tables show mean ± std)', '1')
    .option('--n <count>', "evaluate the first N test images (default: the scale's: smoke 6, cpu 200, paper all)")
    .option('--out <dir>', 'experiment folder (default runs/exp-<scale>-<dataset>)')
    .option('--attacks <columns>', `run only these attack columns' evaluations, comma-separated (${ATTACK_COLUMNS.join(', ')}); the report still lists every cell`)
    .option('--quiet', 'no progress on stderr')
    .addHelpText(
      'after',
      `
Examples:
  jatp experiment plan table1 --scale cpu --dataset fashion-mnist --out runs/exp
  jatp experiment table1 --scale cpu --dataset fashion-mnist --out runs/exp
  jatp experiment all --scale cpu --dataset cifar10 --data-dir ../shared/data/cifar-10-jpeg-batches-bin --out runs/exp-c10
  jatp report runs/exp            # rebuild runs/exp/report/ from the run folders

Killed or Ctrl-C'd, the same command continues: finished cells are skipped, training resumes from its checkpoint.`,
    )
    .action(async (name: string, planned: string | undefined, flags: ExperimentFlags) => {
      if (name === 'plan') {
        if (planned === undefined) throw new Error(`experiment plan: name the experiment (${EXPERIMENT_NAMES.join(', ')}, all)`);
        await runExperimentPlan(planned, flags);
        return;
      }
      if (planned !== undefined) throw new Error(`experiment ${name}: unexpected argument '${planned}'`);
      const { report, interrupted } = await runExperiment(name, flags);
      process.stdout.write(`${report}\n`);
      if (interrupted) process.exitCode = 130;
      if (!fs.existsSync(report)) process.exitCode = 1;
    });
}
