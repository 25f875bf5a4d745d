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
  SCALE_SETTINGS,
  runDryRun,
  type DryRunSubset,
  formatMeasuredPlan,
  parseStepsPerSecond,
  planFromMeasurements,
  readMeasurements,
  type Throughput,
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
  dryRun?: boolean;
  subset?: string;
  measurements?: string;
  gpuStepsPerS?: string;
  speedup?: string;
  attacks?: string;
  cells?: string;
}

/** The experiment flags checked and resolved (defaults filled in); bad values name their flag. */
export function resolveExperimentFlags(flags: ExperimentFlags) {
  const scale = parseScale(flags.scale);
  const dataset = flags.dataset.startsWith('folder:') ? flags.dataset : canonicalName(flags.dataset);
  const seeds = parseInteger('--seeds', flags.seeds, { min: 1 });
  const evalCount = flags.n !== undefined ? parseInteger('--n', flags.n, { min: 1 }) : undefined;
  const out = flags.out ?? path.join('runs', `${flags.dryRun ? 'dry-run' : 'exp'}-${scale}-${dataset.replace(/[^a-z0-9-]/gi, '_')}`);
  const attacks = flags.attacks !== undefined ? parseAttackColumns(flags.attacks) : undefined;
  const cells = flags.cells !== undefined ? parseCellPatterns(flags.cells) : undefined;
  return { scale, dataset, seeds, out, ...(evalCount !== undefined ? { evalCount } : {}), ...(flags.dataDir !== undefined ? { dataDir: flags.dataDir } : {}), ...(attacks ? { attacks } : {}), ...(cells ? { cells } : {}) };
}

/** '--attacks PGD,OBL' -> ['PGD', 'OBL'], with an error naming the valid columns. */
export function parseAttackColumns(text: string): AttackColumn[] {
  const list = text.split(',').map((s) => s.trim()).filter(Boolean);
  for (const a of list) if (!(ATTACK_COLUMNS as readonly string[]).includes(a)) throw new Error(`--attacks: '${a}' is not one of ${ATTACK_COLUMNS.join(', ')}`);
  if (list.length === 0) throw new Error(`--attacks: name at least one of ${ATTACK_COLUMNS.join(', ')}`);
  return list as AttackColumn[];
}

/** '--cells eval-*-nrp-*-on-trades-*,eval-pgd-none-on-trades-*' -> the patterns; empty ones are an error. */
export function parseCellPatterns(text: string): string[] {
  const list = text.split(',').map((s) => s.trim());
  if (list.length === 0 || list.some((p) => p === '')) throw new Error(`--cells: expected comma-separated key patterns such as 'eval-*-nrp-*-on-trades-*', got '${text}'`);
  return list;
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
  const { grid, lines } = planGrid({ ...r, experiments: parseExperimentNames(name) });
  if (flags.measurements === undefined) {
    if (flags.gpuStepsPerS !== undefined || flags.speedup !== undefined) throw new Error('--gpu-steps-per-s / --speedup: need --measurements <file> (a dry run\'s measurements.json)');
    process.stdout.write(`${formatPlan(lines)}\n`);
    return lines;
  }
  const m = readMeasurements(flags.measurements);
  const throughput: Throughput | undefined =
    flags.gpuStepsPerS !== undefined || flags.speedup !== undefined
      ? {
          stepsPerSecond: flags.gpuStepsPerS !== undefined ? parseStepsPerSecond(flags.gpuStepsPerS) : {},
          ...(flags.speedup !== undefined ? { speedup: parsePositive('--speedup', flags.speedup) } : {}),
        }
      : undefined;
  const pending = new Set(lines.filter((l) => l.state !== 'done').map((l) => l.key));
  const cells = [...grid.trainings, ...grid.evaluations].filter((c) => pending.has(c.key));
  const ctx = { scale: SCALE_SETTINGS[r.scale], dataset: r.dataset, ...(r.evalCount !== undefined ? { evalCount: r.evalCount } : {}) };
  process.stdout.write(`${formatMeasuredPlan(planFromMeasurements(ctx, cells, m, throughput), m, flags.measurements, throughput)}\n`);
  return lines;
}

function parsePositive(flag: string, text: string): number {
  const v = Number(text);
  if (!(Number.isFinite(v) && v > 0)) throw new Error(`${flag}: expected a positive number, got '${text}'`);
  return v;
}

/** `--dry-run`: the scale's presets on a handful of images (experiments/suite/dry-run.ts). */
export async function runExperimentDryRun(name: string, flags: ExperimentFlags, argv: readonly string[] = process.argv): Promise<{ report: string; measurements: string }> {
  const r = resolveExperimentFlags(flags);
  const subset = (flags.subset ?? 'kinds') as DryRunSubset;
  if (subset !== 'kinds' && subset !== 'all') throw new Error(`--subset: '${flags.subset}' is not one of kinds, all`);
  if (flags.cells !== undefined) throw new Error('--dry-run: picks its own cells (--subset); leave out --cells');
  if (flags.seeds !== '1' || r.evalCount !== undefined) throw new Error('--dry-run: runs one seed on the dry run\'s own few test images; leave out --seeds and --n');
  const backend = await initBackend();
  const log = flags.quiet ? () => {} : (line: string) => process.stderr.write(`${line}\n`);
  const started = Date.now();
  const res = await runDryRun({
    out: r.out,
    dataset: r.dataset,
    ...(r.dataDir !== undefined ? { dataDir: r.dataDir } : {}),
    experiments: parseExperimentNames(name),
    scale: r.scale,
    subset,
    backend,
    command: ['jatp', ...argv.slice(2)].join(' '),
    log,
  });
  log(`dry run passed in ${((Date.now() - started) / 1000).toFixed(0)} s (${res.measurements.cells.length} cells, ${res.suiteCalls} scheduler calls); measurements: ${res.file}`);
  return { report: res.report, measurements: res.file };
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
  if (result.trained + result.evaluated === 0 && result.leftToOthers > 0) {
    // Said even with --quiet: exit 0 alone would read as "the experiment is complete".
    process.stderr.write(`experiment: nothing run here: ${result.leftToOthers} unfinished cell(s) are held by other processes on ${r.out}; the report covers the finished cells only. Run the same command again once they finish.\n`);
  }
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
    .option('--cells <patterns>', "run only the evaluations whose keys match these comma-separated patterns ('*' matches anything; 'plan' lists the keys) and the trainings they need; the report still lists every cell")
    .option('--quiet', 'no progress on stderr')
    .option('--dry-run', "the scale's presets (real networks, attack budgets, schedules) for a few steps on a handful of images, with one checkpoint/resume; writes measurements.json for 'plan --measurements'")
    .option('--subset <which>', 'with --dry-run: kinds (one cell of each kind; default) | all (every cell)')
    .option('--measurements <file>', "with 'plan': estimate from a dry run's measurements.json (e.g. docs/paper-scale/measurements-*.json)")
    .option('--gpu-steps-per-s <list>', "with 'plan --measurements': another machine's optimizer steps per second at the preset's batch, e.g. trades=12,jatp=3")
    .option('--speedup <factor>', "with 'plan --measurements': how many times faster than the measured machine the rest runs")
    .addHelpText(
      'after',
      `
Examples:
  jatp experiment plan table1 --scale cpu --dataset fashion-mnist --out runs/exp
  jatp experiment table1 --scale cpu --dataset fashion-mnist --out runs/exp
  jatp experiment all --scale cpu --dataset cifar10 --data-dir ../shared/data/cifar-10-jpeg-batches-bin --out runs/exp-c10
  jatp report runs/exp            # rebuild runs/exp/report/ from the run folders
  jatp experiment all --scale paper --dry-run --dataset cifar10 --data-dir ../shared/data/cifar-10-jpeg-batches-bin
  jatp experiment plan all --scale paper --dataset cifar10 --measurements docs/paper-scale/measurements-<cpu>.json --gpu-steps-per-s trades=12 --speedup 40

Killed or Ctrl-C'd, the same command continues: finished cells are skipped, training resumes from its checkpoint.`,
    )
    .action(async (name: string, planned: string | undefined, flags: ExperimentFlags) => {
      if (name === 'plan') {
        if (planned === undefined) throw new Error(`experiment plan: name the experiment (${EXPERIMENT_NAMES.join(', ')}, all)`);
        await runExperimentPlan(planned, flags);
        return;
      }
      if (planned !== undefined) throw new Error(`experiment ${name}: unexpected argument '${planned}'`);
      if (flags.dryRun) {
        const { report, measurements } = await runExperimentDryRun(name, flags);
        process.stdout.write(`${report}\n${measurements}\n`);
        return;
      }
      const { report, interrupted } = await runExperiment(name, flags);
      process.stdout.write(`${report}\n`);
      if (interrupted) process.exitCode = 130;
      if (!fs.existsSync(report)) process.exitCode = 1;
    });
}
