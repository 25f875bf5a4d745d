/**
 * `jatp train-defense`: train JATP, JATP′, APE-G, HGD or NRP in front of a trained target, through
 * the shared training loop (same run folder, presets, resume, progress and metrics as
 * `jatp train-target`). The pre-processor lands in `<out>/last/model.safetensors`, which
 * `jatp eval --preprocessor <out>` loads.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import {
  initBackend,
  withTrainingPrecision,
  readRunConfig,
  stderrProgress,
  trainDefense,
  parseMethod,
  parsePreset,
  DEFENSE_METHODS,
  PRESET_NAMES,
  defenseDefaults,
  PAPER_EPS,
  type DefenseConfig,
  type DefenseRunConfig,
  type TrainDefenseResult,
} from '../index.js';
import { NPROC_OPTION, SYNC_BN_OPTION, launchLocalWorkers, startDataParallelFromEnv, type DistributedFlags } from './data-parallel-flags.js'; // [distributed]
import { defaultEps, parseChoice, parseEps, parseFraction, parseInteger, parseMilestones } from './flags.js';
// CLI-only: the process exit code of a run stopped by a signal or --stop-after-steps.
import { stoppedExitCode } from '../training/stop-signal.js';
import { checkOutputDir } from './output-paths.js';

export interface TrainDefenseFlags extends DistributedFlags { // [distributed]
  /** fp32 | tf32 | bf16: conv/matmul arithmetic of the training run (torch engine); evaluation stays fp32. */
  precision?: string;
  method?: string;
  target?: string;
  /** Default: the dataset of the --target run (its config.json), else cifar10. */
  dataset?: string;
  dataDir?: string;
  out?: string;
  preset: string;
  epochs?: string;
  batchSize?: string;
  lr?: string;
  lrMilestones?: string;
  perClass?: string;
  examples?: string;
  attackSteps?: string;
  eps?: string;
  featureLayer?: string;
  alpha?: string;
  beta?: string;
  pixel?: boolean;
  bce?: boolean;
  fsm?: boolean;
  guidance?: string;
  evalCount?: string;
  evalSteps?: string;
  purifierOptions?: string;
  cacheDir?: string;
  /** true (with --out) or the run folder itself, like `train-target --resume <dir>`. */
  resume?: boolean | string;
  seed: string;
  json?: boolean;
  checkpointEvery?: string;
  stopAfterSteps?: string;
}

/** Apply the flags on top of a preset's config. Attack step sizes scale with eps (they were set for 8/255). */
export function applyFlags(base: DefenseConfig, flags: TrainDefenseFlags): DefenseConfig {
  let c: DefenseConfig = { ...base };
  if (flags.epochs !== undefined) c = { ...c, epochs: parseInteger('--epochs', flags.epochs, { min: 1 }) };
  if (flags.batchSize !== undefined) c = { ...c, batchSize: parseInteger('--batch-size', flags.batchSize, { min: 1 }) };
  if (flags.perClass !== undefined) {
    const v = parseInteger('--per-class', flags.perClass);
    const { perClass: _drop, ...rest } = c;
    void _drop;
    c = v === 0 ? rest : { ...rest, perClass: v };
  }
  if (flags.lr !== undefined) {
    const lr = parseFraction('--lr', flags.lr, { above: 0 });
    c = { ...c, optimizers: Object.fromEntries(Object.entries(c.optimizers).map(([g, o]) => [g, { ...o, lr }])) };
  }
  if (flags.lrMilestones !== undefined) c = { ...c, lrMilestones: parseMilestones(flags.lrMilestones) };
  if (flags.evalCount !== undefined) c = { ...c, evaluation: { ...c.evaluation, count: parseInteger('--eval-count', flags.evalCount) } };
  if (flags.evalSteps !== undefined) c = { ...c, evaluation: { ...c.evaluation, pgdSteps: parseInteger('--eval-steps', flags.evalSteps) } };
  if (flags.purifierOptions !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(flags.purifierOptions);
    } catch (err) {
      throw new Error(`--purifier-options: not valid JSON (${(err as Error).message})`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`--purifier-options: expected a JSON object such as '{"nf":16,"gc":8}'`);
    c = { ...c, purifier: { arch: c.purifier.arch, options: { ...c.purifier.options, ...(parsed as Record<string, unknown>) } } };
  }
  const eps = flags.eps !== undefined ? parseEps('--eps', flags.eps, { positive: true }) : defaultEps(flags.dataset ?? 'cifar10');
  const scale = eps / PAPER_EPS;
  if (c.jatp) {
    let j = { ...c.jatp, eps, attackStepSize: c.jatp.attackStepSize * scale };
    if (flags.attackSteps !== undefined) j = { ...j, attackSteps: parseInteger('--attack-steps', flags.attackSteps) };
    if (flags.featureLayer !== undefined) j = { ...j, featureLayer: flags.featureLayer };
    const loss = { ...j.loss };
    if (flags.alpha !== undefined) loss.alpha = parseFraction('--alpha', flags.alpha, { min: 0 });
    if (flags.beta !== undefined) loss.beta = parseFraction('--beta', flags.beta, { min: 0 });
    if (flags.pixel === false) loss.noPixel = true;
    if (flags.bce === false) loss.noBce = true;
    if (flags.fsm === false) loss.noFsm = true;
    c = { ...c, jatp: { ...j, loss } };
  } else if (flags.alpha !== undefined || flags.beta !== undefined || flags.pixel === false || flags.bce === false || flags.fsm === false) {
    throw new Error(`--alpha/--beta/--no-pixel/--no-bce/--no-fsm apply to --method jatp|jatp-joint only, not '${c.method}'`);
  }
  if (c.baseline) {
    let b = { ...c.baseline, eps, attackStepSize: c.baseline.attackStepSize * scale };
    if (flags.attackSteps !== undefined) b = { ...b, attackSteps: parseInteger('--attack-steps', flags.attackSteps) };
    if (flags.examples !== undefined) {
      const e = flags.examples === 'obl' ? 'oblivious' : flags.examples;
      if (e !== 'oblivious' && e !== 'full') throw new Error(`--examples: '${flags.examples}' is not one of obl, oblivious, full`);
      b = { ...b, examples: e };
    }
    if (flags.guidance !== undefined) {
      if (c.method !== 'hgd') throw new Error(`--guidance applies to --method hgd only`);
      b = { ...b, guidance: parseChoice('--guidance', flags.guidance, ['logits', 'features'] as const) };
    }
    if (flags.featureLayer !== undefined) b = c.method === 'hgd' ? { ...b, guidanceFeature: flags.featureLayer } : { ...b, featureLayer: flags.featureLayer };
    c = { ...c, baseline: b };
  } else if (flags.examples !== undefined && flags.examples !== 'full') {
    throw new Error(`--examples: JATP always trains on full (feature-space) adversarial examples; only 'full' is valid for '${c.method}'`);
  }
  return c;
}

export function summaryText(r: TrainDefenseResult): string {
  const s = r.summary;
  const lines = [
    `method:   ${r.config.defense.method} (preset ${r.config.defense.preset})`,
    `target:   ${r.config.target}`,
    `dataset:  ${r.config.dataset}${r.config.defense.perClass ? `, ${r.config.defense.perClass} images per class` : ''}`,
    `run:      ${s.outDir}  (${s.epochsCompleted}/${r.config.defense.epochs} epochs, ${s.globalStep} steps, ${s.wallSeconds.toFixed(1)} s${s.interrupted ? `, interrupted: continue with --resume ${s.outDir}` : ''}${s.alreadyFinished ? ', already finished: nothing trained' : ''})`,
    // An interrupted first epoch has written no weights yet: do not print a path that does not exist.
    fs.existsSync(r.weights) ? `weights:  ${r.weights}` : 'weights:  none yet (written at the end of each epoch)',
  ];
  if (r.exampleCache) lines.push(`examples: ${r.exampleCache.file} (${r.exampleCache.fromCache ? 'reused' : 'generated'})`);
  if (s.lastEpoch) {
    const fmt = (m: Record<string, number>) => Object.entries(m).map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(4)}`).join(', ');
    lines.push(`epoch ${s.lastEpoch.epoch}: train ${fmt(s.lastEpoch.train)}`);
    if (Object.keys(s.lastEpoch.eval).length > 0) lines.push(`epoch ${s.lastEpoch.epoch}: eval  ${fmt(s.lastEpoch.eval)} (%, full model T(clip01(P(x))))`);
  }
  return lines.join('\n');
}

/**
 * `--resume <dir>` alone continues a run with its stored settings (as `train-target --resume`):
 * fill --out, --method, --target and --preset from the run's config.json.
 */
type ResolvedFlags = TrainDefenseFlags & { method: string; target: string; out: string; dataset: string };

/** The dataset a train-target run folder was trained on (its config.json), if `target` is one. */
export function targetRunDataset(target: string): string | undefined {
  if (!fs.existsSync(path.join(target, 'config.json'))) return undefined;
  const stored = readRunConfig(target).config as { dataset?: unknown } | null;
  return typeof stored?.dataset === 'string' ? stored.dataset : undefined;
}

function withResumeDefaults(flags: TrainDefenseFlags): ResolvedFlags {
  if (flags.resume === undefined || flags.resume === false) {
    for (const [name, value] of [['--method', flags.method], ['--target', flags.target], ['--out', flags.out]] as const) {
      if (value === undefined) throw new Error(`${name} is required (unless continuing a run with --resume <dir>)`);
    }
    // A Fashion-MNIST target must not silently get a CIFAR-10 defense: take the target run's dataset.
    const dataset = flags.dataset ?? targetRunDataset(flags.target!) ?? 'cifar10';
    return { ...flags, dataset } as ResolvedFlags;
  }
  const out = typeof flags.resume === 'string' ? flags.resume : flags.out;
  if (out === undefined) throw new Error('--resume: name the run folder (--resume <dir>, or --out <dir> --resume)');
  const configFile = path.join(out, 'config.json');
  if (!fs.existsSync(configFile)) throw new Error(`--resume: ${configFile} does not exist (not a train-defense run folder)`);
  const stored = readRunConfig(out).config as Partial<DefenseRunConfig> | null;
  if (stored?.kind !== 'defense' || stored.defense === undefined) throw new Error(`--resume: ${configFile} is not a train-defense run`);
  return {
    ...flags,
    out,
    method: flags.method ?? String(stored.defense.method),
    target: flags.target ?? stored.target ?? '',
    preset: stored.defense.preset ?? flags.preset,
    dataset: stored.dataset ?? flags.dataset ?? 'cifar10',
  };
}

/** Exit status of the command: 130 (143 after SIGTERM) when the run stopped before its last epoch, as `train-target`. */
export function trainDefenseExitCode(result: TrainDefenseResult): number {
  return result.summary.interrupted ? stoppedExitCode(result.summary.stoppedBy) : 0;
}

export async function runTrainDefense(givenFlags: TrainDefenseFlags): Promise<TrainDefenseResult> {
  if (givenFlags.target !== undefined && !fs.existsSync(givenFlags.target)) {
    throw new Error(`--target: '${givenFlags.target}' does not exist; expected a train-target run folder or its .safetensors weights`);
  }
  const flags = withResumeDefaults(givenFlags);
  // Before any work: the oblivious examples alone take hours at paper scale.
  checkOutputDir(flags.out, givenFlags.resume !== undefined && givenFlags.resume !== false ? '--resume' : '--out');
  if (flags.cacheDir !== undefined) checkOutputDir(flags.cacheDir, '--cache-dir');
  const method = parseMethod(flags.method);
  const preset = parsePreset(flags.preset);
  const seed = parseInteger('--seed', flags.seed);
  // The flags are resolved over the preset here, before the library is called (a resumed run keeps its stored settings).
  const config = applyFlags(defenseDefaults(method, preset), flags);
  await initBackend();
  await startDataParallelFromEnv(flags); // [distributed] joins the group under a launcher
  return withTrainingPrecision(flags.precision, '--precision', () => trainDefense({
    method,
    preset,
    target: flags.target,
    dataset: flags.dataset,
    ...(flags.dataDir !== undefined ? { dataDir: flags.dataDir } : {}),
    out: flags.out,
    seed,
    config,
    ...(flags.cacheDir !== undefined ? { cacheDir: flags.cacheDir } : {}),
    ...(flags.resume !== undefined && flags.resume !== false ? { resume: true } : {}),
    progress: stderrProgress(),
    ...(flags.checkpointEvery !== undefined ? { checkpointEverySteps: parseInteger('--checkpoint-every', flags.checkpointEvery) } : {}),
    ...(flags.stopAfterSteps !== undefined ? { stopAfterSteps: parseInteger('--stop-after-steps', flags.stopAfterSteps, { min: 1 }) } : {}),
  }));
}

export function register(program: Command): void {
  program
    .command('train-defense')
    .description('train a pre-processing defense (JATP, JATP\', APE-G, HGD, NRP) in front of a trained target model')
    .option('--method <name>', `defense: ${DEFENSE_METHODS.join(' | ')}`)
    .option('--target <run>', 'target run folder (from train-target) or its .safetensors weights')
    .option('--out <dir>', 'run folder to create')
    .option('--dataset <name>', 'cifar10 | svhn | mnist | fashion-mnist | folder:<path> (default: the --target run\'s dataset, else cifar10)')
    .option('--data-dir <dir>', 'folder holding the dataset files')
    .option('--preset <name>', `defaults: ${PRESET_NAMES.join(' | ')} (paper = spec schedules and networks; cpu = narrow nets, 100 images/class, K=5, 5 epochs)`, 'paper')
    .option('--epochs <n>', 'override the preset epochs')
    .option('--batch-size <n>', 'override the preset batch size')
    .option('--lr <x>', 'override the base learning rate of every optimizer group')
    .option('--lr-milestones <list>', "learning-rate multipliers by 1-based epoch, e.g. '15:0.1,25:0.01' ('none' = constant); not rescaled by --epochs")
    .option('--per-class <n>', 'train on the first n images of each class (0 = all)')
    .option('--examples <kind>', "baselines: 'obl' (oblivious PGD-40 / SSP vs the target, cached) or 'full' (PGD-40 through the current P, spec §4.4)")
    .option('--attack-steps <k>', 'steps of the training attack (JATP Eq. 5: 10; baselines: 40, NRP SSP: 100)')
    .option('--eps <x>', 'L-inf budget (default 8/255; 0.1 for (fashion-)mnist); attack step sizes scale with it')
    .option('--feature-layer <name>', "target feature for JATP/NRP (default: the target's, ResNet-18 'layer3'); HGD: its FGD layer")
    .option('--alpha <x>', 'JATP: weight of the FSM term (default 5)')
    .option('--beta <x>', 'JATP: weight of the pixel loss (default 3)')
    .option('--no-pixel', 'JATP ablation: drop the pixel loss')
    .option('--no-bce', 'JATP ablation: drop the boosted cross-entropy')
    .option('--no-fsm', 'JATP ablation: drop the FSM term')
    .option('--guidance <kind>', 'HGD: logits (LGD, default) | features (FGD)')
    .option('--eval-count <n>', 'test images for the per-epoch clean/PGD accuracy of the full model (0 = none)')
    .option('--eval-steps <n>', 'PGD steps of that per-epoch evaluation (paper preset 40, cpu 10)')
    .option('--purifier-options <json>', `override the pre-processor's registry options, e.g. '{"nf":16,"gc":8,"nb":1}'`)
    .option('--cache-dir <dir>', 'oblivious-example cache (default: <out>/../.example-cache)')
    .option('--checkpoint-every <n>', 'also checkpoint every n steps inside an epoch')
    .option('--stop-after-steps <n>', 'stop (with a checkpoint) after n steps in total; continue later with --resume')
    .option('--resume [dir]', 'continue the run in <dir> (or --out) from its newest checkpoint; its stored settings win')
    .option('--seed <n>', 'seed of initialisation, data order and attacks', '0')
    .option('--precision <p>', 'conv/matmul arithmetic while training: fp32 | tf32 (GPU) | bf16 (fp32 weights; torch engine only; attacks after training stay fp32)')
    .option('--json', 'print the result as JSON on stdout')
    .option(...NPROC_OPTION) // [distributed]
    .option(...SYNC_BN_OPTION) // [distributed]
    .addHelpText('after', '\nExample:\n  jatp train-defense --method jatp --target runs/trades --dataset cifar10 --out runs/jatp --preset cpu\n')
    .action(async (flags: TrainDefenseFlags) => {
      if (await launchLocalWorkers(flags)) return; // [distributed] --nproc: the workers did the run
      const result = await runTrainDefense(flags);
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ summary: result.summary, config: result.config, weights: result.weights, exampleCache: result.exampleCache ?? null }, null, 2)}\n`);
      } else {
        process.stdout.write(`${summaryText(result)}\n`);
      }
      // Stopped early (Ctrl-C, SIGTERM, --stop-after-steps): non-zero as train-target, so `&&` chains stop here.
      process.exitCode = trainDefenseExitCode(result);
    });
}
