/**
 * Train one defense end to end through the shared loop (training/loop.ts `runTraining`): load the
 * target from its run folder, build the pre-processor (and discriminator), prepare the training data
 * (a per-class subset; for baselines on oblivious examples, the cached [natural | adversarial] pairs),
 * evaluate the full model T(clip01(P(x))) after each epoch (clean and PGD accuracy on a test subset),
 * and save the pre-processor as `<out>/last/model.safetensors` (+ sidecar) so that
 * `jatp eval --preprocessor <out>` and `loadPreprocessor(<out>)` find it.
 *
 * Resume: the whole `DefenseRunConfig` is stored in `<out>/config.json`; `resume: true` rebuilds the
 * run from it (the loop restores weights, optimizer slots and position bitwise).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Dataset, Split } from '../data/types.js';
import { loadDataset } from '../data/load-dataset.js';
import { firstPerClass, firstN } from '../data/subset.js';
import { buildNetwork, isClassifier } from '../models/architectures.js';
import type { Classifier, Network } from '../models/types.js';
import { saveNetwork } from '../models/weights.js';
import { fullModel } from '../models/full-model.js';
import { accuracyUnderPgd } from '../training/pgd-accuracy.js';
import { checkRunFolder, piecewiseSchedule, readRunConfig, runTraining, type ProgressSink, type RunSummary } from '../training/loop.js';
import type { Recipe } from '../training/types.js';
import { defenseDefaults, type DefenseConfig, type DefenseMethod, type PresetName } from './presets.js';
import { JatpRecipe } from './jatp.js';
import { JatpJointRecipe } from './jatp-joint.js';
import { ApegRecipe } from './apeg.js';
import { HgdRecipe } from './hgd.js';
import { NrpRecipe } from './nrp.js';
import { obliviousExamples, pairedSplit, type ObliviousAttackSpec } from './example-cache.js';
import { loadRunNetwork } from './load-networks.js';
import { PAPER_EPS } from '../data/threat-model.js';
import { plateauControl } from './plateau.js';

/** What `config.json` of a defense run holds (under `config`), enough to rebuild it on resume. */
export interface DefenseRunConfig {
  readonly kind: 'defense';
  readonly defense: DefenseConfig;
  /** Target run folder or weights file, as given. */
  readonly target: string;
  readonly dataset: string;
  readonly dataDir?: string;
  readonly seed: number;
  /** Folder of the oblivious-example cache. */
  readonly cacheDir: string;
}

/** Options of `trainDefense`: method, preset, target run folder, dataset, output folder (seed default 0). */
export interface TrainDefenseOptions {
  readonly method: DefenseMethod;
  readonly preset: PresetName;
  readonly target: string;
  readonly dataset: string;
  readonly dataDir?: string;
  readonly out: string;
  readonly seed?: number;
  /** The defense's settings, resolved by the caller (e.g. the CLI's flags over the preset); default `defenseDefaults(method, preset)`. */
  readonly config?: DefenseConfig;
  readonly cacheDir?: string;
  readonly resume?: boolean;
  readonly progress?: ProgressSink;
  /** Passed to the loop (tests, time-boxed runs). */
  readonly stopAfterSteps?: number;
  readonly checkpointEverySteps?: number;
  readonly handleSigint?: boolean;
}

/** What `trainDefense` returns: the loop's summary, the run config and where the pre-processor was saved. */
export interface TrainDefenseResult {
  readonly summary: RunSummary;
  readonly config: DefenseRunConfig;
  /** Where the pre-processor was saved. */
  readonly weights: string;
  /** Oblivious examples: the cache file and whether it was reused. */
  readonly exampleCache?: { file: string; fromCache: boolean };
}

/** The run config: a fresh one from the options, or the stored one when resuming an existing run. */
export function defenseRunConfig(opts: TrainDefenseOptions): DefenseRunConfig {
  if (opts.resume && fs.existsSync(path.join(opts.out, 'config.json'))) {
    const stored = readRunConfig(opts.out).config as DefenseRunConfig | null;
    if (stored === null || stored.kind !== 'defense') throw new Error(`${path.join(opts.out, 'config.json')}: not a train-defense run`);
    return stored;
  }
  return {
    kind: 'defense',
    defense: opts.config ?? defenseDefaults(opts.method, opts.preset),
    target: opts.target,
    dataset: opts.dataset,
    ...(opts.dataDir !== undefined ? { dataDir: opts.dataDir } : {}),
    seed: opts.seed ?? 0,
    cacheDir: opts.cacheDir ?? path.join(path.dirname(path.resolve(opts.out)), '.example-cache'),
  };
}

function withImageOptions(spec: { arch: string; options: Record<string, unknown> }, dataset: Dataset, seed: number): Network {
  const [h, , c] = dataset.imageShape;
  return buildNetwork(spec.arch, { ...spec.options, inputSize: h, inChannels: c, seed });
}

/** Build the networks and the recipe of `config` in front of `target`. */
export function buildDefense(
  config: DefenseConfig,
  target: Classifier,
  dataset: Dataset,
  seed: number,
): { recipe: Recipe; purifier: Network; discriminator?: Network } {
  const purifier = withImageOptions(config.purifier, dataset, seed);
  const discriminator = config.discriminator ? withImageOptions(config.discriminator, dataset, seed + 1) : undefined;
  const b = config.baseline;
  const pgd = b ? { eps: b.eps, steps: b.attackSteps, stepSize: b.attackStepSize, randomStart: true } : undefined;
  let recipe: Recipe;
  switch (config.method) {
    case 'jatp':
    case 'jatp-joint': {
      const j = config.jatp!;
      const o = { featureLayer: j.featureLayer, eps: j.eps, attackSteps: j.attackSteps, attackStepSize: j.attackStepSize, loss: j.loss };
      recipe = config.method === 'jatp' ? new JatpRecipe(purifier, target, o) : new JatpJointRecipe(purifier, target, o);
      break;
    }
    case 'apeg':
      recipe = new ApegRecipe(purifier, discriminator!, target, { examples: b!.examples, pgd: pgd! });
      break;
    case 'hgd':
      recipe = new HgdRecipe(purifier, target, {
        examples: b!.examples,
        pgd: pgd!,
        ...(b!.guidance ? { guidance: b!.guidance } : {}),
        ...(b!.guidanceFeature ? { guidanceFeature: b!.guidanceFeature } : {}),
      });
      break;
    case 'nrp':
      recipe = new NrpRecipe(purifier, discriminator!, target, { examples: b!.examples, pgd: pgd!, ...(b!.featureLayer ? { featureLayer: b!.featureLayer } : {}) });
      break;
  }
  return { recipe, purifier, ...(discriminator ? { discriminator } : {}) };
}

/** The oblivious attack of a baseline (PGD for APE-G/HGD, SSP for NRP), from its config. */
export function obliviousSpec(config: DefenseConfig): ObliviousAttackSpec {
  const b = config.baseline!;
  if (config.method === 'nrp') return { kind: 'ssp', eps: b.eps, steps: b.attackSteps, stepSize: b.attackStepSize, featureLayer: b.featureLayer ?? 'default' };
  return { kind: 'pgd', eps: b.eps, steps: b.attackSteps, stepSize: b.attackStepSize, randomStart: true };
}

/** Clean and PGD accuracy (%) of T(clip01(P(x))) on `split` (eval mode; training/pgd-accuracy.ts, attack seeds from 0). */
export function evaluateFullModel(
  target: Classifier,
  purifier: Network,
  split: Split,
  imageShape: readonly [number, number, number],
  pgd: { steps: number; stepSize: number; eps: number },
  batchSize = 100,
): { cleanAcc: number; pgdAcc: number } {
  const model = fullModel(target, purifier, { clamp: true }).logits;
  return accuracyUnderPgd(model, split, imageShape, { eps: pgd.eps, steps: pgd.steps, stepSize: pgd.stepSize, batchSize, seed: 0 });
}

/** Trains a pre-processing defense against a target, end to end (what `jatp train-defense` runs). Example: `await trainDefense({ method: 'jatp', preset: 'cpu', target: 'runs/trades', dataset: 'fashion-mnist', out: 'runs/jatp' })`. */
export async function trainDefense(opts: TrainDefenseOptions): Promise<TrainDefenseResult> {
  const config = defenseRunConfig(opts);
  const d = config.defense;
  // Before the dataset, the target and (for baselines) minutes of oblivious examples.
  checkRunFolder(opts.out, opts.resume === true);
  const dataset = await loadDataset(config.dataset, config.dataDir !== undefined ? { dataDir: config.dataDir } : {});
  const targetNet = await loadRunNetwork(config.target, '--target');
  if (!isClassifier(targetNet)) {
    targetNet.dispose();
    throw new Error(`--target: '${config.target}' holds a '${targetNet.arch}', not a classifier`);
  }
  const target = targetNet;
  const progress = opts.progress;
  const { recipe, purifier, discriminator } = buildDefense(d, target, dataset, config.seed);
  try {
    let train = d.perClass !== undefined ? firstPerClass(dataset.train, d.perClass) : dataset.train;
    let imageShape: readonly [number, number, number] = dataset.imageShape;
    let exampleCache: TrainDefenseResult['exampleCache'];
    if (d.baseline?.examples === 'oblivious') {
      const spec = obliviousSpec(d);
      progress?.message(`oblivious ${spec.kind} examples for ${train.count} images (cache ${config.cacheDir})`);
      const cached = obliviousExamples(target, train, dataset.imageShape, spec, {
        cacheDir: config.cacheDir,
        seed: config.seed,
        progress: (done, total) => progress?.message(`  oblivious examples ${done}/${total}`),
      });
      exampleCache = { file: cached.file, fromCache: cached.fromCache };
      const paired = pairedSplit(train, cached.images, dataset.imageShape);
      train = paired.split;
      imageShape = paired.imageShape;
    }
    const evalSplit = firstN(dataset.test, d.evaluation.count);
    const eps = d.jatp?.eps ?? d.baseline?.eps ?? PAPER_EPS;
    const weightsFile = path.join(opts.out, 'last', 'model.safetensors');
    const meta = { dataset: dataset.name, recipe: { method: d.method, preset: d.preset }, target: config.target };
    const plateau = d.plateau ? plateauControl(opts.out, d.plateau) : undefined;
    const summary = await runTraining(recipe, {
      outDir: opts.out,
      config,
      epochs: d.epochs,
      batchSize: d.batchSize,
      optimizers: d.optimizers,
      lrSchedule: plateau ? (epoch1) => plateau.schedule(epoch1) : piecewiseSchedule(d.lrMilestones),
      ...(plateau ? { converged: plateau.converged } : {}),
      seed: config.seed,
      data: { train, imageShape, augment: d.augment },
      evaluate: () =>
        d.evaluation.count > 0
          ? evaluateFullModel(target, purifier, evalSplit, dataset.imageShape, { eps, steps: d.evaluation.pgdSteps, stepSize: d.evaluation.pgdStepSize })
          : {},
      bestMetric: d.evaluation.count > 0 ? 'pgdAcc' : undefined,
      saveWeights: async (dir) => {
        await saveNetwork(purifier, path.join(dir, 'model.safetensors'), meta);
        if (discriminator) await saveNetwork(discriminator, path.join(dir, 'discriminator.safetensors'), meta);
        // JATP′ changes T; keep the jointly trained target beside P (spec §2.7: P is what is evaluated).
        if (d.method === 'jatp-joint') await saveNetwork(target, path.join(dir, 'target.safetensors'), meta);
      },
      ...(opts.resume !== undefined ? { resume: opts.resume } : {}),
      ...(progress !== undefined ? { progress } : {}),
      ...(opts.stopAfterSteps !== undefined ? { stopAfterSteps: opts.stopAfterSteps } : {}),
      ...(opts.checkpointEverySteps !== undefined ? { checkpointEverySteps: opts.checkpointEverySteps } : {}),
      ...(opts.handleSigint !== undefined ? { handleSigint: opts.handleSigint } : {}),
    });
    return { summary, config, weights: weightsFile, ...(exampleCache ? { exampleCache } : {}) };
  } finally {
    purifier.dispose();
    discriminator?.dispose();
    target.dispose();
  }
}

