/**
 * `jatp experiment plan <name> --scale paper --measurements FILE`: the whole experiment estimated
 * from a dry run's measurements (dry-run.ts) instead of built-in guesses. A training cell costs its
 * preset's epochs x steps per epoch x the measured seconds per step (measured at the dry run's batch,
 * scaled linearly to the preset's batch), plus its per-epoch evaluation and, for baselines, the
 * oblivious examples of the whole training set; an evaluation costs the measured seconds per test image
 * times the test images. Optionally the same work at a stated throughput (a GPU's steps per second of
 * a recipe, or a plain speed-up factor), so a user can size a GPU job before starting it.
 */
import * as fs from 'node:fs';
import type { DefenseCell, GridContext, ResolvedCell, TargetCell } from './cells.js';
import { cellClass, type CellMeasurement, type Measurements } from './dry-run.js';

/** Train / test images of the datasets the presets know (the per-epoch cost needs them before loading anything). */
const SPLIT_SIZES: Readonly<Record<string, { train: number; test: number; classes: number }>> = {
  cifar10: { train: 50000, test: 10000, classes: 10 },
  svhn: { train: 73257, test: 26032, classes: 10 },
  'fashion-mnist': { train: 60000, test: 10000, classes: 10 },
  mnist: { train: 60000, test: 10000, classes: 10 },
};

/** Reads a dry run's `measurements.json`; a file of another shape is refused naming the file. */
export function readMeasurements(file: string): Measurements {
  let m: Measurements;
  try {
    m = JSON.parse(fs.readFileSync(file, 'utf8')) as Measurements;
  } catch (err) {
    throw new Error(`--measurements ${file}: not readable JSON (${(err as Error).message})`);
  }
  if (m.format !== 'jatp-dry-run-measurements' || m.version !== 1 || !Array.isArray(m.cells)) {
    throw new Error(`--measurements ${file}: expected a dry run's measurements.json (format 'jatp-dry-run-measurements', version 1)`);
  }
  return m;
}

/** What the user says another machine does. */
export interface Throughput {
  /** Optimizer steps per second at the preset's batch, by recipe or method ('trades', 'jatp', 'nrp', ...). */
  readonly stepsPerSecond: Readonly<Record<string, number>>;
  /** Everything else runs this many times faster than the measured machine. */
  readonly speedup?: number;
}

/** `--gpu-steps-per-s "trades=12,jatp=3"` -> { trades: 12, jatp: 3 }. */
export function parseStepsPerSecond(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([a-z-]+)=([0-9.]+(?:e-?\d+)?)$/i.exec(part);
    const v = m ? Number(m[2]) : NaN;
    if (!m || !(v > 0)) throw new Error(`--gpu-steps-per-s: '${part}' is not <recipe or method>=<steps per second>, e.g. trades=12`);
    out[m[1]!] = v;
  }
  return out;
}

export interface PlannedCell {
  readonly key: string;
  readonly kind: 'target' | 'defense' | 'eval';
  readonly cls: string;
  /** The measured cell it is estimated from, and how closely it matches. */
  readonly from: string | undefined;
  readonly match: 'same kind' | 'same method' | 'same attack' | 'stand-in' | 'none';
  readonly steps?: number;
  /** The preset's batch (training cells). */
  readonly batchSize?: number;
  readonly secondsPerStep?: number;
  readonly seconds: number;
  /** At the stated throughput; undefined when none applies. */
  readonly secondsThere?: number;
  readonly peakRssBytes?: number;
}

function median(xs: readonly number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** Seconds of one step at the dry run's batch: the clean inter-step times, else the whole wall time over the steps. */
function stepSeconds(c: CellMeasurement): number {
  return median(c.stepSeconds ?? []) ?? c.wallSeconds / Math.max(1, c.steps ?? 1);
}

/**
 * The measured cell a kind is estimated from: the same kind; else the same method (other examples or
 * ablation) or attack (on another pre-processor); else a stand-in of the same cost structure: another
 * target recipe (the same ResNet-18 with a 10-step training attack) for a target, JATP for JATP′ (the
 * same purifier and loss, plus the target's update), PGD for BPDA (both 40 gradient steps).
 */
function findMeasured(m: Measurements, cls: string): { c: CellMeasurement; match: PlannedCell['match'] } | undefined {
  const exact = m.cells.find((c) => c.cls === cls);
  if (exact) return { c: exact, match: 'same kind' };
  const [kind, name, rest] = cls.split(':');
  const near = m.cells.find((c) => c.cls.startsWith(`${kind}:${name}:`));
  if (near) return { c: near, match: kind === 'eval' ? 'same attack' : 'same method' };
  const stand = kind === 'target' ? 'target:trades' : kind === 'defense' && name === 'jatp-joint' ? 'defense:jatp::none' : kind === 'eval' && name === 'BPDA' ? `eval:PGD:${rest}` : undefined;
  const standIn = stand !== undefined ? (m.cells.find((c) => c.cls === stand) ?? m.cells.find((c) => c.cls.startsWith(stand.split(':').slice(0, 2).join(':') + ':'))) : undefined;
  if (standIn) return { c: standIn, match: 'stand-in' };
  return undefined;
}

function nameOf(cell: ResolvedCell): string {
  return cell.cell.kind === 'target' ? (cell.cell as TargetCell).recipe : cell.cell.kind === 'defense' ? (cell.cell as DefenseCell).method : `eval`;
}

/** Estimates each cell of `cells` (resolved at the real scale) from the measurements. */
export function planFromMeasurements(ctx: GridContext, cells: readonly ResolvedCell[], m: Measurements, throughput?: Throughput): PlannedCell[] {
  const sizes = SPLIT_SIZES[ctx.dataset];
  if (!sizes) throw new Error(`plan --measurements: no split sizes known for dataset '${ctx.dataset}' (known: ${Object.keys(SPLIT_SIZES).join(', ')})`);
  const testImages = ctx.evalCount ?? ctx.scale.evalCount ?? sizes.test;
  // The per-epoch evaluation of a target is measured on one target (the same function for all).
  const targetEval = m.cells.find((c) => c.kind === 'target' && c.epochEvalSeconds !== undefined && (c.epochEvalImages ?? 0) > 0);
  return cells.map((cell): PlannedCell => {
    const cls = cellClass(cell);
    const found = findMeasured(m, cls);
    const base = { key: cell.key, kind: cell.cell.kind, cls, from: found?.c.key, match: found?.match ?? ('none' as const) };
    if (!found) return { ...base, seconds: NaN };
    const c = found.c;
    if (cell.cell.kind === 'eval') {
      // The dry run caps AutoAttack's iterations: scale to the standard version's work (an upper bound: points already fooled cost less).
      const aa = (cell.cell as { attack?: string }).attack === 'AA' ? (m.autoAttackWorkRatio ?? 1) : 1;
      const seconds = (c.evalSecondsPerImage ?? NaN) * testImages * aa;
      return { ...base, seconds, ...(throughput?.speedup ? { secondsThere: seconds / throughput.speedup } : {}), peakRssBytes: c.peakRssBytes };
    }
    let epochs: number;
    let batch: number;
    let trainCount: number;
    let evalImages: number;
    if (cell.cell.kind === 'target') {
      const t = ctx.scale.targetConfig((cell.cell as TargetCell).recipe, ctx.dataset, cell.cell.seed);
      epochs = t.epochs;
      batch = t.batchSize;
      trainCount = t.perClass !== undefined ? t.perClass * sizes.classes : sizes.train;
      evalImages = t.evaluation.perClass * sizes.classes;
    } else {
      const d = cell.cell as DefenseCell;
      const dc = ctx.scale.defenseConfig(d.method, ctx.dataset, d.examples, d.ablation);
      epochs = dc.epochs;
      batch = dc.batchSize;
      trainCount = dc.perClass !== undefined ? dc.perClass * sizes.classes : sizes.train;
      evalImages = dc.evaluation.count;
    }
    const steps = epochs * Math.ceil(trainCount / batch);
    // Linear in the batch: a step's kernels are (at these sizes) proportional to the images in it.
    const secondsPerStep = stepSeconds(c) * (batch / (c.batchSize ?? batch));
    const evalSource = c.epochEvalSeconds !== undefined && (c.epochEvalImages ?? 0) > 0 ? c : cell.cell.kind === 'target' ? targetEval : undefined;
    const evalSeconds = evalSource ? (evalSource.epochEvalSeconds! / evalSource.epochEvalImages!) * evalImages * epochs : 0;
    const oblSeconds = c.obliviousSeconds !== undefined && (c.obliviousImages ?? 0) > 0 ? (c.obliviousSeconds / c.obliviousImages!) * trainCount : 0;
    const seconds = steps * secondsPerStep + evalSeconds + oblSeconds;
    const rate = throughput?.stepsPerSecond[nameOf(cell)];
    // A stated rate replaces the measured one; the cell's other work is sped up by the same ratio.
    const secondsThere = rate !== undefined ? seconds / (rate * secondsPerStep) : throughput?.speedup ? seconds / throughput.speedup : undefined;
    return { ...base, steps, batchSize: batch, secondsPerStep, seconds, ...(secondsThere !== undefined ? { secondsThere } : {}), peakRssBytes: c.peakRssBytes };
  });
}

export function hours(s: number | undefined): string {
  if (s === undefined) return '-';
  if (!Number.isFinite(s)) return '?';
  if (s < 3600) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

/** Where the measurements come from, in one line. */
export function machineLine(m: Measurements): string {
  const mc = m.machine;
  return `${mc.cpuModel} (${mc.cores} cores, ${(mc.memoryBytes / 2 ** 30).toFixed(0)} GiB; load average ${mc.loadAverageStart.join('/')} at start, ${mc.loadAverageEnd.join('/')} at end), backend '${m.backend}', ${m.date.slice(0, 16).replace('T', ' ')} UTC; GPU: ${mc.gpu}`;
}

/** The plan as text: one line per cell kind (summed over its cells), then the total. */
export function formatMeasuredPlan(planned: readonly PlannedCell[], m: Measurements, file: string, throughput?: Throughput): string {
  const out: string[] = [];
  out.push(`Estimated from measurements ${file}`);
  out.push(`  measured on: ${machineLine(m)}`);
  out.push(`  dry run: ${m.work.perClass} training image per class in batches of ${m.work.batchSize}, ${m.work.evalCount} test images per attack; step times scaled linearly to each preset's batch`);
  if (m.work.jatpLrFactor !== undefined) out.push(`  JATP trained at x${m.work.jatpLrFactor} of its preset's learning rate (the preset diverges against the dry run's 5-step target, in PyTorch too; a step costs the same at any rate)`);
  const stated = throughput ? [...Object.entries(throughput.stepsPerSecond).map(([k, v]) => `${k} ${v} steps/s`), ...(throughput.speedup ? [`everything else x${throughput.speedup}`] : [])].join(', ') : '';
  out.push('');
  const groups = new Map<string, PlannedCell[]>();
  for (const p of planned) groups.set(p.cls, [...(groups.get(p.cls) ?? []), p]);
  const head = ['cell kind', 'cells', 'steps/cell', 's/step here', 'peak RSS (dry batch)', 'here', ...(throughput ? ['at stated rate'] : [])];
  const rows = [...groups.entries()].map(([cls, ps]) => {
    const p0 = ps[0]!;
    const sum = (f: (p: PlannedCell) => number | undefined) => ps.reduce<number | undefined>((a, p) => (a === undefined || f(p) === undefined ? undefined : a + f(p)!), 0);
    return [
      cls,
      String(ps.length),
      p0.steps !== undefined ? String(p0.steps) : '-',
      p0.secondsPerStep !== undefined ? p0.secondsPerStep.toFixed(2) : '-',
      p0.peakRssBytes !== undefined ? `${(p0.peakRssBytes / 2 ** 30).toFixed(2)} GiB` : '-',
      `${hours(sum((p) => p.seconds))}${p0.match === 'same kind' ? '' : p0.match === 'none' ? ' (not measured)' : ` (${p0.match}: ${m.cells.find((c) => c.key === p0.from)?.cls})`}`,
      ...(throughput ? [hours(sum((p) => p.secondsThere))] : []),
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  out.push(line(head));
  for (const r of rows) out.push(line(r));
  const measured = planned.filter((p) => p.match !== 'none');
  const total = measured.reduce((a, p) => a + p.seconds, 0);
  const there = measured.every((p) => p.secondsThere !== undefined) ? measured.reduce((a, p) => a + p.secondsThere!, 0) : undefined;
  const unmeasured = planned.length - measured.length;
  if (m.failure !== undefined) out.push('', `The dry run FAILED: ${m.failure}`, 'Kinds it did not reach are not measured.');
  out.push('');
  out.push(`${planned.length} cells to run: ${hours(total)} on the measured machine${unmeasured ? ` (${unmeasured} cells of kinds the dry run did not run are left out)` : ''}`);
  if (throughput) out.push(`at the stated throughput (${stated}): ${there !== undefined ? hours(there) : `${hours(measured.reduce((a, p) => a + (p.secondsThere ?? 0), 0))} for the cells it covers; state --speedup for the rest`}`);
  else out.push(`state a GPU's rate to size a GPU job, e.g. --gpu-steps-per-s "trades=12,jatp=3" --speedup 40 (nothing here was measured on a GPU)`);
  return out.join('\n');
}


/**
 * The README's "what a paper-scale run needs" section, from a measurements file: per cell kind, the
 * measured step time and peak memory at the dry run's batch, and the whole experiment's estimate.
 */
export function paperScaleMarkdown(planned: readonly PlannedCell[], m: Measurements, file: string): string {
  const out: string[] = [];
  const mc = m.machine;
  out.push(`Measured by \`jatp experiment ${m.experiments.length === 5 ? 'all' : m.experiments.join(',')} --scale ${m.scale} --dry-run\` (dataset \`${m.dataset}\`) on ${mc.cpuModel}, ${mc.cores} cores, backend \`${m.backend}\`, ${m.date.slice(0, 10)}; the machine was shared with other jobs (load average ${mc.loadAverageStart.join(' / ')} at the start, ${mc.loadAverageEnd.join(' / ')} at the end), so wall times are upper bounds and the CPU-time column is the steadier number. **Not measured on a GPU** (none was available). Source: \`${file}\`.`);
  out.push('');
  out.push(`The dry run trains each cell kind for ${m.work.perClass * 10 / m.work.batchSize} steps of batch ${m.work.batchSize} on the real networks and attack budgets; a paper step has the preset's batch, estimated as the measured step x (preset batch / ${m.work.batchSize}). Peak memory is the process RSS at batch ${m.work.batchSize} (it grows with the batch).${m.work.jatpLrFactor !== undefined ? ` JATP and JATP′ train at ${m.work.jatpLrFactor} x their preset's learning rate in the dry run: at the preset's 0.01 they diverge against the dry run's 5-step target, in PyTorch the same way (see \`dryRunLrFactor\`); a step costs the same at any rate. Whether the preset converges against a real 76-epoch TRADES target at batch 128 is not shown by the dry run.` : ''}`);
  out.push('');
  out.push('| cell kind | cells in `all` | preset batch | paper steps per cell | measured s/step (CPU s/step) at batch 2 | peak RSS at batch 2 | estimate, all cells of this kind |');
  out.push('|---|---|---|---|---|---|---|');
  // Evaluations grouped by attack (one row per attack, over every model it runs on).
  const groups = new Map<string, PlannedCell[]>();
  for (const p of planned) {
    const g = p.kind === 'eval' ? p.cls.split(':').slice(0, 2).join(':') : p.cls;
    groups.set(g, [...(groups.get(g) ?? []), p]);
  }
  for (const [cls, ps] of groups) {
    const c = m.cells.find((x) => x.key === ps[0]!.from);
    const cpu = median(c?.stepCpuSeconds ?? []);
    const wall = median(c?.stepSeconds ?? []);
    const perImage = c?.evalSecondsPerImage;
    const measuredText = wall !== undefined ? `${wall.toFixed(2)} (${cpu?.toFixed(2) ?? '-'})` : perImage !== undefined ? `${perImage.toFixed(1)} s per test image` : '-';
    out.push(`| ${cls} | ${ps.length} | ${ps[0]!.batchSize ?? '-'} | ${ps[0]!.steps ?? '-'} | ${measuredText} | ${c ? `${(c.peakRssBytes / 2 ** 30).toFixed(2)} GiB` : '-'} | ${ps[0]!.match === 'none' ? 'not measured' : `${hours(ps.reduce((a, p) => a + p.seconds, 0))}${ps[0]!.match === 'same kind' ? '' : ` (${ps[0]!.match}: ${c?.cls})`}`} |`);
  }
  const measured = planned.filter((p) => p.match !== 'none');
  const total = measured.reduce((a, p) => a + p.seconds, 0);
  out.push('');
  if (m.failure !== undefined) out.push(`**The dry run failed**: ${m.failure.replace(/\|/g, '/')}. Cell kinds after it were not reached ("-" above).`, '');
  out.push(`Whole experiment (\`all\`, one seed, ${planned.length} cells, CIFAR-10: 50,000 training and 10,000 test images): **${hours(total)}** on this machine as loaded${measured.length < planned.length ? ` for the ${measured.length} cells of measured kinds (${planned.length - measured.length} cells not estimated)` : ''}. For a GPU, state its rate: \`jatp experiment plan all --scale paper --dataset cifar10 --measurements ${file} --gpu-steps-per-s trades=<steps/s> --speedup <factor>\` prints the same table at that throughput.`);
  return out.join('\n');
}
