/**
 * Every training default of every defense, in one place (spec §2.6, §4.1–4.3, A13/A14), as two
 * presets: `paper` (the paper's networks and schedules) and `cpu` (narrow networks, a per-class
 * subset, fewer attack steps and epochs, for a 2-core machine). The CLI and the library both start
 * from these objects; flags override single fields.
 */
import type { OptimizerSpec } from '../training/loop.js';
import type { ExampleMode } from './training-examples.js';
import type { HgdGuidance, JatpLossOptions } from './purifier-losses.js';
import { DEFAULT_JATP_LOSS_OPTIONS } from './purifier-losses.js';
import { PAPER_EPS } from '../data/threat-model.js';
import type { PlateauRule } from './plateau.js';

/** The defenses `trainDefense` / `jatp train-defense --method` can train. */
export const DEFENSE_METHODS = ['jatp', 'jatp-joint', 'apeg', 'hgd', 'nrp'] as const;
/** One of DEFENSE_METHODS. */
export type DefenseMethod = (typeof DEFENSE_METHODS)[number];
/** Hyper-parameter presets: the paper's, or a CPU-scale one. */
export const PRESET_NAMES = ['paper', 'cpu'] as const;
/** One of PRESET_NAMES. */
export type PresetName = (typeof PRESET_NAMES)[number];

/** Parses a defense method name, with an error listing the valid ones. */
export function parseMethod(text: string): DefenseMethod {
  if ((DEFENSE_METHODS as readonly string[]).includes(text)) return text as DefenseMethod;
  throw new Error(`--method: '${text}' is not one of ${DEFENSE_METHODS.join(', ')}`);
}

/** Parses a preset name, with an error listing the valid ones. */
export function parsePreset(text: string): PresetName {
  if ((PRESET_NAMES as readonly string[]).includes(text)) return text as PresetName;
  throw new Error(`--preset: '${text}' is not one of ${PRESET_NAMES.join(', ')}`);
}

/** A network to build through the registry (inputSize/inChannels are filled in from the dataset). */
export interface NetworkSpec {
  readonly arch: string;
  readonly options: Record<string, unknown>;
}

/** Everything one defense training run needs besides the target and the data. JSON-able (stored in config.json). */
export interface DefenseConfig {
  readonly method: DefenseMethod;
  readonly preset: PresetName;
  /** The pre-processor (saved as last/model.safetensors). */
  readonly purifier: NetworkSpec;
  /** GAN methods (apeg, nrp): the discriminator. */
  readonly discriminator?: NetworkSpec;
  /** Optimizer per variable group ('main', or 'generator' + 'discriminator'). */
  readonly optimizers: Record<string, OptimizerSpec>;
  /** Piecewise lr multipliers, 1-based epochs: [[15, 0.1], [25, 0.01]] = x0.1 from 15, x0.01 from 25. */
  readonly lrMilestones: ReadonlyArray<readonly [number, number]>;
  readonly epochs: number;
  readonly batchSize: number;
  /** First `perClass` training images of each class; undefined = the whole training split. */
  readonly perClass?: number;
  /** spec §1 train augmentation (pad 4, crop, flip). */
  readonly augment: 'crop-flip' | 'none';
  /** JATP / JATP′: the Eq. 5 attack and the loss. */
  readonly jatp?: {
    readonly featureLayer: string;
    readonly eps: number;
    readonly attackSteps: number;
    readonly attackStepSize: number;
    readonly loss: JatpLossOptions;
  };
  /** Baselines: where (x, x_adv) pairs come from, and the attack settings. */
  readonly baseline?: {
    readonly examples: ExampleMode;
    /** Oblivious PGD (apeg, hgd) / SSP (nrp) and full-PGD settings (spec §4, §4.3, §4.4). */
    readonly eps: number;
    readonly attackSteps: number;
    readonly attackStepSize: number;
    /** HGD only. */
    readonly guidance?: HgdGuidance;
    readonly guidanceFeature?: string;
    /** NRP only: Φ for SSP and the feature loss. */
    readonly featureLayer?: string;
  };
  /** Per-epoch evaluation of the full model T(clip01(P(x))) on the first `count` test images. */
  readonly evaluation: { readonly count: number; readonly pgdSteps: number; readonly pgdStepSize: number };
  /**
   * Train until the objective plateaus (plateau.ts) instead of a fixed schedule: `epochs` is then the
   * cap and `lrMilestones` is ignored (the phases take the rule's factors).
   */
  readonly plateau?: PlateauRule;
}

/** spec §2.6: SGD 0.01 (momentum 0.9, wd 2e-4), /10 at epochs 15 and 25, 30 epochs, batch 128 (A3), K = 10 (A2). */
function jatpPaper(method: 'jatp' | 'jatp-joint'): DefenseConfig {
  return {
    method,
    preset: 'paper',
    purifier: { arch: 'jatp-purifier', options: { nf: 64, gc: 32, nb: 3 } },
    optimizers: { main: { kind: 'sgd', lr: 0.01, momentum: 0.9, weightDecay: 2e-4 } },
    lrMilestones: [[15, 0.1], [25, 0.01]],
    epochs: 30,
    batchSize: 128,
    augment: 'crop-flip',
    jatp: { featureLayer: 'default', eps: PAPER_EPS, attackSteps: 10, attackStepSize: 0.01, loss: DEFAULT_JATP_LOSS_OPTIONS },
    evaluation: { count: 1000, pgdSteps: 40, pgdStepSize: 0.01 },
  };
}

const PAPER: Record<DefenseMethod, DefenseConfig> = {
  jatp: jatpPaper('jatp'),
  'jatp-joint': jatpPaper('jatp-joint'),
  // spec §4.1: Adam 2e-4 (0.5, 0.999), batch 128, 30 epochs, no decay; oblivious PGD-40 step 0.007.
  apeg: {
    method: 'apeg',
    preset: 'paper',
    purifier: { arch: 'apeg-generator', options: {} },
    discriminator: { arch: 'apeg-discriminator', options: {} },
    optimizers: {
      generator: { kind: 'adam', lr: 2e-4, beta1: 0.5, beta2: 0.999 },
      discriminator: { kind: 'adam', lr: 2e-4, beta1: 0.5, beta2: 0.999 },
    },
    lrMilestones: [],
    epochs: 30,
    batchSize: 128,
    augment: 'crop-flip',
    baseline: { examples: 'oblivious', eps: PAPER_EPS, attackSteps: 40, attackStepSize: 0.007 },
    evaluation: { count: 1000, pgdSteps: 40, pgdStepSize: 0.01 },
  },
  // spec §4.2 / A14: Adam 1e-3, batch 32, 100 epochs, x0.1 after epoch 60, x0.01 after 90; LGD.
  hgd: {
    method: 'hgd',
    preset: 'paper',
    purifier: { arch: 'hgd', options: { widthScale: 1 } },
    optimizers: { main: { kind: 'adam', lr: 1e-3 } },
    lrMilestones: [[61, 0.1], [91, 0.01]],
    epochs: 100,
    batchSize: 32,
    augment: 'crop-flip',
    baseline: { examples: 'oblivious', eps: PAPER_EPS, attackSteps: 40, attackStepSize: 0.007, guidance: 'logits', guidanceFeature: 'layer4' },
    evaluation: { count: 1000, pgdSteps: 40, pgdStepSize: 0.01 },
  },
  // spec §4.3 / A13 / A15: Adam 1e-3 (wd 2e-4) for P and D, batch 300, 70 epochs, x0.3 after 40, 50, 60; SSP 100 steps.
  nrp: {
    method: 'nrp',
    preset: 'paper',
    purifier: { arch: 'nrp', options: { nf: 64, gc: 32, nb: 3 } },
    discriminator: { arch: 'nrp-discriminator', options: { numFeat: 32 } },
    optimizers: {
      generator: { kind: 'adam', lr: 1e-3, weightDecay: 2e-4 },
      discriminator: { kind: 'adam', lr: 1e-3, weightDecay: 2e-4 },
    },
    lrMilestones: [[41, 0.3], [51, 0.09], [61, 0.027]],
    epochs: 70,
    batchSize: 300,
    augment: 'crop-flip',
    baseline: { examples: 'oblivious', eps: PAPER_EPS, attackSteps: 100, attackStepSize: 0.01, featureLayer: 'default' },
    evaluation: { count: 1000, pgdSteps: 40, pgdStepSize: 0.01 },
  },
};

/**
 * CPU preset: the same methods, scaled down (spec §5b suggests K = 5 and a subset as the practical
 * smoke test): 100 images per class, narrow networks, K = 5 / 10-step PGD, a few epochs, no
 * augmentation (small grayscale datasets), evaluation on 200 test images with PGD-10; JATP's SGD
 * learning rate 1e-3 instead of 1e-2 (see below).
 */
function cpuVersion(paper: DefenseConfig): DefenseConfig {
  const narrow: Record<string, Record<string, unknown>> = {
    'jatp-purifier': { nf: 16, gc: 8, nb: 1 },
    nrp: { nf: 16, gc: 8, nb: 1 },
    hgd: { widthScale: 0.125 },
    'nrp-discriminator': { numFeat: 8 },
  };
  const shrink = (n: NetworkSpec): NetworkSpec => ({ arch: n.arch, options: { ...n.options, ...(narrow[n.arch] ?? {}) } });
  const epochs = 5;
  const scaleMilestones = paper.lrMilestones.map(([e, f]) => [Math.max(2, Math.round((e * epochs) / paper.epochs)), f] as const);
  return {
    ...paper,
    preset: 'cpu',
    purifier: shrink(paper.purifier),
    ...(paper.discriminator ? { discriminator: shrink(paper.discriminator) } : {}),
    lrMilestones: scaleMilestones,
    epochs,
    batchSize: 50,
    perClass: 100,
    augment: 'none',
    ...(paper.jatp ? { jatp: { ...paper.jatp, attackSteps: 5 } } : {}),
    // The narrow purifier from PyTorch-default initialisation diverged under SGD 0.01 (momentum 0.9)
    // within 8 steps on Fashion-MNIST (pixel loss 0.97 -> 1e16 -> NaN); 1e-3 trains stably.
    ...(paper.jatp ? { optimizers: { main: { ...paper.optimizers['main']!, lr: 1e-3 } } } : {}),
    ...(paper.baseline ? { baseline: { ...paper.baseline, attackSteps: paper.method === 'nrp' ? 20 : 10 } } : {}),
    evaluation: { count: 200, pgdSteps: 10, pgdStepSize: 0.01 },
  };
}

/** The full configuration of a defense for a preset. Example: `defenseDefaults('jatp', 'cpu')`. */
export function defenseDefaults(method: DefenseMethod, preset: PresetName): DefenseConfig {
  const paper = PAPER[method];
  return preset === 'paper' ? paper : cpuVersion(paper);
}

/**
 * The training objective each method's plateau is judged on: the method's own loss. For the GAN
 * baselines the generator's adversarial term chases a moving discriminator and never settles, so the
 * purification term is watched: the pixel reconstruction of APE-G and the feature-space distance of NRP.
 */
export const PLATEAU_OBJECTIVES: Readonly<Record<DefenseMethod, string>> = { jatp: 'loss', 'jatp-joint': 'loss', apeg: 'mse', hgd: 'loss', nrp: 'feature' };

/**
 * `config` trained until its objective plateaus: the paper's learning-rate factors of the method (its
 * `paper` milestones, in order), one phase each, no per-epoch evaluation (the suite scores the result).
 */
export function withPlateau(config: DefenseConfig, rule: { patience: number; minRelativeImprovement: number; maxEpochs: number }): DefenseConfig {
  const factors = [...PAPER[config.method].lrMilestones].sort((a, b) => a[0] - b[0]).map(([, f]) => f);
  return {
    ...config,
    epochs: rule.maxEpochs,
    lrMilestones: [],
    evaluation: { ...config.evaluation, count: 0 },
    plateau: { objective: PLATEAU_OBJECTIVES[config.method], lrFactors: factors, ...rule },
  };
}
