import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { initBackend } from '../backend.js';
import { loadDataset } from '../data/index.js';
import { firstN } from '../data/subset.js';
import { parseAttackList, parseEps, validAttackForms, type AttackSpec } from '../attacks/registry.js';
import { evaluate, EVALUATION_DEFAULTS, type EvaluationReport } from '../experiments/evaluate.js';
import { loadPipeline, parsePixelRange, PIXEL_RANGES } from '../experiments/load.js';
import { writeFileAtomic } from '../models/safetensors.js';

interface EvalFlags {
  model: string;
  weights?: string;
  preprocessor?: string;
  preprocessorWeights?: string;
  pixelRange: string;
  dataset: string;
  dataDir?: string;
  n: string;
  attacks: string;
  eps?: string;
  norm: string;
  bpda?: boolean;
  batchSize: string;
  seed: string;
  json?: string;
}

/** Paper budget on 32x32 colour data; Fashion-MNIST/MNIST use the customary 0.1 (issue 6). */
function defaultEps(dataset: string): number {
  return /mnist/.test(dataset) ? 0.1 : 8 / 255;
}

function positiveInt(text: string, flag: string): number {
  const v = Number(text);
  if (!Number.isSafeInteger(v) || v < 1) throw new Error(`${flag}: '${text}' is not a positive integer`);
  return v;
}

function pct(v: number): string {
  return `${(100 * v).toFixed(2)}%`;
}

/** Human table of a report (stdout). */
export function formatReport(report: EvaluationReport, describe: { model: string; preprocessor?: string; dataset: string }): string {
  const lines: string[] = [];
  lines.push(`model:        ${describe.model}`);
  if (describe.preprocessor) lines.push(`preprocessor: ${describe.preprocessor}`);
  lines.push(`data:         ${describe.dataset}, n = ${report.n}, ${report.norm} eps = ${report.eps.toFixed(5)}`);
  lines.push('');
  const rows: string[][] = [['attack', 'accuracy', 'L1 adv-nat', 'L1 purified-nat', 'seconds']];
  rows.push(['natural', pct(report.cleanAccuracy), '', '', '']);
  for (const a of report.attacks) {
    rows.push([
      a.attack + (a.bpda && a.attack !== 'bpda' ? ' (bpda)' : ''),
      pct(a.robustAccuracy),
      a.meanL1AdvVsNatural.toFixed(2),
      a.meanL1PurifiedVsNatural === undefined ? '-' : a.meanL1PurifiedVsNatural.toFixed(2),
      a.seconds.toFixed(1),
    ]);
    for (const s of a.stages ?? []) rows.push([`  after ${s.name}`, pct(s.robustAccuracy), '', '', '']);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const r of rows) lines.push(r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '));
  lines.push('');
  lines.push('L1 columns: mean |x_adv - x| and mean |clip01(P(x_adv)) - x| per element, 0-255 scale (paper Fig. 2b).');
  return lines.join('\n');
}

export async function runEval(flags: EvalFlags): Promise<EvaluationReport> {
  const attacks: AttackSpec[] = parseAttackList(flags.attacks).map((s) => (flags.bpda ? { ...s, bpda: true } : s));
  const eps = flags.eps === undefined ? defaultEps(flags.dataset) : parseEps(flags.eps);
  if (flags.norm !== 'Linf' && flags.norm !== 'L2') throw new Error(`--norm: '${flags.norm}' is not one of Linf, L2`);
  const n = positiveInt(flags.n, '--n');
  const batchSize = positiveInt(flags.batchSize, '--batch-size');
  const seed = Number(flags.seed);
  if (!Number.isSafeInteger(seed)) throw new Error(`--seed: '${flags.seed}' is not an integer`);
  const pixelRange = parsePixelRange(flags.pixelRange);

  const backend = await initBackend();
  const dataset = await loadDataset(flags.dataset, { dataDir: flags.dataDir });
  const split = firstN(dataset.test, Math.min(n, dataset.test.count));
  const pipeline = await loadPipeline({
    model: flags.weights ?? flags.model,
    preprocessor: flags.preprocessorWeights ?? flags.preprocessor,
    pixelRange,
  });
  if (flags.weights && pipeline.classifier && flags.model !== flags.weights && pipeline.classifier.arch !== flags.model && !fs.existsSync(flags.model)) {
    pipeline.dispose();
    throw new Error(`--model: '${flags.model}' does not match the architecture '${pipeline.classifier.arch}' stored with --weights ${flags.weights}`);
  }
  process.stderr.write(`eval on backend '${backend}': ${split.count} ${dataset.name} test images, attacks ${attacks.map((a) => a.text).join(', ')}\n`);
  const tty = process.stderr.isTTY === true;
  let lastLine = 0;
  try {
    const report = evaluate(pipeline.model, split, {
      attacks,
      eps,
      norm: flags.norm,
      batchSize,
      seed,
      onProgress: (attack, done, total) => {
        if (tty) {
          const width = 24;
          const filled = Math.round((width * done) / total);
          process.stderr.write(`\r${attack.padEnd(10)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}\x1b[K`);
          if (done === total) process.stderr.write('\n');
        } else if (done === total || Date.now() - lastLine > 10_000) {
          lastLine = Date.now();
          process.stderr.write(`${attack}: ${done}/${total}\n`);
        }
      },
    });
    const describe = { ...pipeline.describe, dataset: dataset.name };
    if (flags.json) {
      const payload = { ...describe, backend, attacksRequested: flags.attacks, ...report };
      fs.mkdirSync(path.dirname(path.resolve(flags.json)), { recursive: true });
      await writeFileAtomic(flags.json, `${JSON.stringify(payload)}\n`);
    }
    process.stdout.write(`${formatReport(report, describe)}\n`);
    return report;
  } finally {
    pipeline.dispose();
  }
}

export function register(program: Command): void {
  program
    .command('eval')
    .description(
      'Attack the full model (pre-processor + classifier) with adaptive white-box attacks and report clean and robust accuracy',
    )
    .requiredOption('--model <path>', 'classifier: a run folder, a .safetensors weights file (with its .json sidecar), or a tfjs model.json')
    .option('--weights <file>', 'classifier weights file (then --model may name the architecture, checked against the file)')
    .option('--preprocessor <path>', 'pre-processor run folder or weights file (e.g. runs/jatp); omitted: no pre-processing')
    .option('--preprocessor-weights <file>', 'pre-processor weights file (alternative to --preprocessor)')
    .option('--pixel-range <range>', `input range a foreign tfjs model expects: ${PIXEL_RANGES.join(', ')}`, '0-1')
    .option('--dataset <name>', 'fashion-mnist | mnist | cifar10 | svhn | folder:<path>', 'fashion-mnist')
    .option('--data-dir <dir>', 'where the dataset files are (default: the usual locations and the cache)')
    .option('--n <count>', 'evaluate the first N test images', '1000')
    .option('--attacks <list>', `comma-separated attacks with budgets; valid: ${validAttackForms()}`, 'pgd40')
    .option('--eps <value>', 'perturbation budget, e.g. 8/255 or 0.1 (default: 8/255; 0.1 for (fashion-)mnist)')
    .option('--norm <norm>', 'Linf | L2 (gradient attacks)', EVALUATION_DEFAULTS.norm)
    .option('--bpda', 'run every attack with the identity as the pre-processor\'s backward pass (BPDA)')
    .option('--batch-size <n>', 'images per attack batch', String(EVALUATION_DEFAULTS.batchSize))
    .option('--seed <n>', 'seed of every random start', String(EVALUATION_DEFAULTS.seed))
    .option('--json <file>', 'write the full report with per-example outcomes to this JSON file')
    .action(async (flags: EvalFlags) => {
      await runEval(flags);
    });
}
