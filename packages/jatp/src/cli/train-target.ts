/**
 * `jatp train-target`: train a target classifier with natural training, Standard AT, TRADES, MART or
 * MMA(-lite) through the shared training loop. Presets `paper` (reference
 * hyper-parameters, GPU) and `cpu` (minutes on 2 cores); every preset value can be overridden by a
 * flag. `--resume <dir>` continues a run from its newest usable checkpoint with the run's own config.
 * The classifier lands in `<out>/last/model.safetensors` (+ sidecar), best PGD accuracy in `best/`.
 *
 *   jatp train-target --preset cpu --recipe trades --dataset fashion-mnist --out runs/trades-fm
 *   jatp train-target --recipe trades --arch resnet18 --dataset cifar10 --epochs 100 --out runs/x
 *   jatp train-target --resume runs/x
 */
import { existsSync } from 'node:fs';
import * as os from 'node:os';
import type { Command } from 'commander';
import {
  initBackend,
  withTrainingPrecision,
  stderrProgress,
  TARGET_PRESETS,
  TARGET_RECIPES,
  parseTargetPreset,
  parseTargetRecipe,
  readTargetConfig,
  targetPreset,
  trainTarget,
  type TargetConfig,
  type TrainTargetResult,
} from '../index.js';
import { DISTRIBUTED_FLAG_NAMES, NPROC_OPTION, SYNC_BN_OPTION, launchLocalWorkers, startDataParallelFromEnv, type DistributedFlags } from './data-parallel-flags.js'; // [distributed]
import { parseChoice, parseEps, parseFraction, parseInteger, parseMilestones } from './flags.js';
// CLI-only: the process exit code of a run stopped by a signal or --stop-after-steps.
import { stoppedExitCode } from '../training/stop-signal.js';
import { checkOutputDir } from './output-paths.js';

export interface TrainTargetFlags extends DistributedFlags { // [distributed]
  /** fp32 | tf32 | bf16: conv/matmul arithmetic of the training run (torch engine); evaluation stays fp32. */
  precision?: string;
  recipe?: string;
  preset: string;
  arch?: string;
  width?: string;
  dataset?: string;
  dataDir?: string;
  out?: string;
  resume?: string;
  epochs?: string;
  batchSize?: string;
  lr?: string;
  momentum?: string;
  weightDecay?: string;
  lrMilestones?: string;
  eps?: string;
  stepSize?: string;
  attackSteps?: string;
  beta?: string;
  dMax?: string;
  perClass?: string;
  augment?: string;
  evalPerClass?: string;
  evalSteps?: string;
  checkpointEvery?: string;
  stopAfterSteps?: string;
  seed?: string;
  json?: boolean;
}

/** Flags on top of a preset. The eval PGD step scales with eps when only --eps is given. */
export function applyTargetFlags(base: TargetConfig, f: TrainTargetFlags): TargetConfig {
  const c: TargetConfig = { ...base, archOptions: { ...base.archOptions }, optimizer: { ...base.optimizer }, attack: { ...base.attack }, evaluation: { ...base.evaluation } };
  if (f.arch !== undefined) {
    const arch = parseChoice('--arch', f.arch, ['resnet18', 'small-cnn'] as const);
    if (arch !== c.arch) c.archOptions = {};
    c.arch = arch;
  }
  if (f.width !== undefined) c.archOptions.width = parseInteger('--width', f.width, { min: 1 });
  if (f.dataDir !== undefined) c.dataDir = f.dataDir;
  if (f.epochs !== undefined) c.epochs = parseInteger('--epochs', f.epochs, { min: 1 });
  if (f.batchSize !== undefined) c.batchSize = parseInteger('--batch-size', f.batchSize, { min: 1 });
  if (f.lr !== undefined) c.optimizer.lr = parseFraction('--lr', f.lr, { above: 0 });
  if (f.momentum !== undefined) c.optimizer.momentum = parseFraction('--momentum', f.momentum, { min: 0 });
  if (f.weightDecay !== undefined) c.optimizer.weightDecay = parseFraction('--weight-decay', f.weightDecay, { min: 0 });
  if (f.lrMilestones !== undefined) c.lrMilestones = parseMilestones(f.lrMilestones);
  if (f.eps !== undefined) {
    const eps = parseEps('--eps', f.eps);
    const scale = c.attack.eps > 0 ? eps / c.attack.eps : 1;
    c.attack.eps = eps;
    if (f.stepSize === undefined) c.attack.stepSize *= scale;
    c.evaluation.pgdStepSize *= scale;
  }
  if (f.stepSize !== undefined) c.attack.stepSize = parseFraction('--step-size', f.stepSize, { above: 0 });
  if (f.attackSteps !== undefined) c.attack.steps = parseInteger('--attack-steps', f.attackSteps);
  if (f.beta !== undefined) {
    if (c.recipe !== 'trades' && c.recipe !== 'mart') throw new Error(`--beta applies to --recipe trades|mart only, not '${c.recipe}'`);
    c.beta = parseFraction('--beta', f.beta, { min: 0 });
  }
  if (f.dMax !== undefined) {
    if (c.recipe !== 'mma-original') throw new Error(`--d-max applies to --recipe mma-original only, not '${c.recipe}'`);
    c.dMax = parseFraction('--d-max', f.dMax, { above: 0 });
  }
  if (f.perClass !== undefined) {
    const v = parseInteger('--per-class', f.perClass);
    if (v === 0) delete c.perClass;
    else c.perClass = v;
  }
  if (f.augment !== undefined) {
    c.augment = parseChoice('--augment', f.augment, ['none', 'crop-flip'] as const);
  }
  if (f.evalPerClass !== undefined) c.evaluation.perClass = parseInteger('--eval-per-class', f.evalPerClass);
  if (f.evalSteps !== undefined) c.evaluation.pgdSteps = parseInteger('--eval-steps', f.evalSteps);
  if (f.checkpointEvery !== undefined) c.checkpointEverySteps = parseInteger('--checkpoint-every', f.checkpointEvery);
  if (f.seed !== undefined) c.seed = parseInteger('--seed', f.seed);
  return c;
}

/** The config a command line describes: a preset plus flags, or the stored config of --resume <dir>. */
export function targetConfigFromFlags(f: TrainTargetFlags): { config: TargetConfig; out: string; resume: boolean } {
  if (f.resume !== undefined) {
    const stored = readTargetConfig(f.resume);
    if (f.out !== undefined && f.out !== f.resume) throw new Error(`--out ${f.out} and --resume ${f.resume} differ; --resume continues the run in its own folder`);
    // Only flags that do not change what the run computes may accompany --resume.
    const allowed = new Set(['resume', 'out', 'preset', 'json', 'dataDir', 'stopAfterSteps', 'epochs', ...DISTRIBUTED_FLAG_NAMES]); // [distributed]
    const extra = Object.entries(f).filter(([k, v]) => v !== undefined && !allowed.has(k));
    if (extra.length > 0) throw new Error(`--resume uses the run's stored settings; drop ${extra.map(([k]) => `--${k.replace(/[A-Z]/g, (m) => `-${m.toLowerCase()}`)}`).join(', ')}`);
    const config = { ...stored };
    if (f.dataDir !== undefined) config.dataDir = f.dataDir;
    if (f.epochs !== undefined) config.epochs = parseInteger('--epochs', f.epochs, { min: 1 }); // extend a finished run
    return { config, out: f.resume, resume: true };
  }
  if (f.out === undefined) throw new Error('--out <dir> is required (or --resume <dir>)');
  const recipe = parseTargetRecipe(f.recipe ?? 'trades');
  const preset = parseTargetPreset(f.preset);
  const dataset = f.dataset ?? (preset === 'cpu' ? 'fashion-mnist' : 'cifar10');
  return { config: applyTargetFlags(targetPreset(recipe, preset, dataset), f), out: f.out, resume: false };
}

function fmt(m: Record<string, number>): string {
  return Object.entries(m)
    .map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(4)}`)
    .join(', ');
}

export function trainTargetText(r: TrainTargetResult): string {
  const s = r.summary;
  const c = r.config;
  const lines = [
    `recipe:   ${c.recipe} (preset ${c.preset}), ${c.arch} ${JSON.stringify(c.archOptions)}`,
    `dataset:  ${c.dataset}${c.perClass ? `, ${c.perClass} images per class` : ''}; attack eps ${c.attack.eps.toFixed(4)}, ${c.attack.steps} steps of ${c.attack.stepSize.toFixed(4)}`,
    `run:      ${s.outDir}  (${s.epochsCompleted}/${c.epochs} epochs, ${s.globalStep} steps, ${s.wallSeconds.toFixed(1)} s${s.interrupted ? ', interrupted: continue with --resume ' + s.outDir : ''})`,
    existsSync(r.weights) ? `weights:  ${r.weights}` : `weights:  none yet (written at the end of each epoch)`,
  ];
  if (s.resumedFrom) lines.push(`resumed:  ${s.resumedFrom}${s.alreadyFinished ? ' (the run had already finished: nothing trained; give a larger --epochs to extend it)' : ''}`);
  for (const k of s.skippedCheckpoints) lines.push(`skipped:  ${k.file}: ${k.reason}`);
  if (s.lastEpoch) {
    lines.push(`epoch ${s.lastEpoch.epoch}: train ${fmt(s.lastEpoch.train)}`);
    if (Object.keys(s.lastEpoch.eval).length > 0) lines.push(`epoch ${s.lastEpoch.epoch}: eval  ${fmt(s.lastEpoch.eval)} (% of ${c.evaluation.perClass} test images per class; PGD-${c.evaluation.pgdSteps})`);
  }
  if (s.best) lines.push(`best:     ${s.best.metric} ${s.best.value.toFixed(2)} at epoch ${s.best.epoch} (best/model.safetensors)`);
  return lines.join('\n');
}

/** The command's action, exported for tests and scripts. */
export async function runTrainTarget(flags: TrainTargetFlags): Promise<TrainTargetResult> {
  const { config, out, resume } = targetConfigFromFlags(flags);
  checkOutputDir(out, resume ? '--resume' : '--out');
  await initBackend();
  await startDataParallelFromEnv(flags); // [distributed] joins the group under a launcher
  return withTrainingPrecision(flags.precision, '--precision', () => trainTarget({
    config,
    out,
    resume,
    progress: stderrProgress(),
    ...(flags.stopAfterSteps !== undefined ? { stopAfterSteps: parseInteger('--stop-after-steps', flags.stopAfterSteps, { min: 1 }) } : {}),
  }));
}

export function register(program: Command): void {
  program
    .command('train-target')
    .description('train a target classifier: natural, standard (Madry PGD AT), trades, mart, mma (MMA-lite) or mma-original, resumable')
    .option('--recipe <name>', `training recipe: ${TARGET_RECIPES.join(', ')} (default trades)`)
    .option('--preset <name>', `hyper-parameter preset: ${TARGET_PRESETS.join(', ')} (paper = reference settings for a GPU; cpu = small net, subset, few epochs)`, 'paper')
    .option('--arch <name>', 'classifier: resnet18 | small-cnn (preset: paper resnet18, cpu small-cnn)')
    .option('--width <n>', 'channel width of the classifier (resnet18 64, small-cnn 16 by default; cpu preset 8)')
    .option('--dataset <name>', 'cifar10 | svhn | fashion-mnist | mnist | folder:<path> (default: paper cifar10, cpu fashion-mnist)')
    .option('--data-dir <dir>', 'read the dataset from this folder instead of the default locations')
    .option('--out <dir>', 'run folder (config.json, metrics.jsonl, checkpoints/, last/, best/)')
    .option('--resume <dir>', 'continue the run in <dir> from its newest usable checkpoint, with its stored settings')
    .option('--epochs <n>', 'epochs (with --resume: extend a run)')
    .option('--batch-size <n>', 'mini-batch size')
    .option('--lr <x>', 'initial SGD learning rate')
    .option('--momentum <x>', 'SGD momentum (0.9)')
    .option('--weight-decay <x>', 'L2 weight decay added to the gradient')
    .option('--lr-milestones <list>', "learning-rate multipliers by epoch, e.g. '75:0.1,90:0.01' ('none' = constant)")
    .option('--eps <x>', 'L-inf budget of the training attack, e.g. 8/255 or 0.1 (steps scale with it unless --step-size)')
    .option('--step-size <x>', 'step of the training PGD (paper 0.007)')
    .option('--attack-steps <n>', 'steps of the training PGD (paper 10)')
    .option('--beta <x>', 'TRADES / MART trade-off weight (paper 6)')
    .option('--d-max <x>', 'original MMA hinge margin d_max (default 32/255 on CIFAR-10)')
    .option('--per-class <n>', 'train on the first n images of each class (0 = all)')
    .option('--augment <kind>', 'none | crop-flip (pad 4, random crop, random flip)')
    .option('--eval-per-class <n>', 'test images per class evaluated after each epoch (0 = none)')
    .option('--eval-steps <n>', 'PGD steps of the per-epoch robust accuracy (0 = clean only)')
    .option('--checkpoint-every <n>', 'also checkpoint every n steps inside an epoch (0 = epoch ends only)')
    .option('--stop-after-steps <n>', 'stop (with a checkpoint) after n steps in total; continue later with --resume')
    .option('--seed <n>', 'seed of initialisation, data order, augmentation and attack starts (0)')
    .option('--precision <p>', 'conv/matmul arithmetic while training: fp32 | tf32 (GPU) | bf16 (fp32 weights; torch engine only; attacks after training stay fp32)')
    .option('--json', 'print the result as JSON on stdout')
    .option(...NPROC_OPTION) // [distributed]
    .option(...SYNC_BN_OPTION) // [distributed]
    .addHelpText(
      'after',
      `
Examples:
  jatp train-target --preset cpu --recipe trades --dataset fashion-mnist --out runs/trades-fm
  jatp train-target --recipe trades --arch resnet18 --dataset cifar10 --epochs 100 --out runs/x
  jatp train-target --resume runs/x

Progress goes to stderr (a bar on a terminal); Ctrl-C or SIGTERM writes a checkpoint and exits with
status 130 (SIGTERM: 143); continue with --resume.`,
    )
    .action(async (flags: TrainTargetFlags) => {
      if (flags.nproc !== undefined) {
        // Checked before spawning: each rank needs at least one example of every batch.
        const { config, out, resume } = targetConfigFromFlags(flags);
        const nproc = parseInteger('--nproc', flags.nproc, { min: 1 });
        if (config.batchSize < nproc) throw new Error(`--nproc ${nproc}: a batch of ${config.batchSize} examples cannot give each of ${nproc} ranks one; use --batch-size ${nproc} or more, or fewer processes`);
        if (nproc > os.availableParallelism()) process.stderr.write(`warning: --nproc ${nproc} is more than the ${os.availableParallelism()} CPU cores; the ranks will compete for them\n`);
        checkOutputDir(out, resume ? '--resume' : '--out');
      }
      if (await launchLocalWorkers(flags)) return; // [distributed] --nproc: the workers did the run
      const r = await runTrainTarget(flags);
      process.stdout.write(flags.json ? `${JSON.stringify({ config: r.config, summary: r.summary, weights: r.weights }, null, 2)}\n` : `${trainTargetText(r)}\n`);
      // 130 after Ctrl-C or --stop-after-steps, 143 after SIGTERM: scripts chaining with && stop here.
      if (r.summary.interrupted) process.exitCode = stoppedExitCode(r.summary.stoppedBy);
    });
}
