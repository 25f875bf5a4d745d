/**
 * Target-model presets: the recipe names, the `paper` and `cpu` presets, and the `TargetConfig` a
 * run stores (train.ts runs it). The CLI (`jatp train-target`) resolves its flags over a preset
 * before calling the library.
 *
 * Presets (spec §3.2 table; A11 "per-repo defaults"):
 *
 * | recipe   | lr   | weight decay | batch | epochs | lr x0.1 / x0.01 / x0.001 at epoch | beta |
 * |----------|------|--------------|-------|--------|------------------------------------|------|
 * | natural  | 0.1  | 2e-4         | 128   | 100    | 75 / 90                            | -    |
 * | standard | 0.1  | 2e-4         | 256   | 100    | 75 / 90          (author train_standard.py) | - |
 * | trades   | 0.1  | 2e-4         | 128   | 76     | 75 / 90 / 100    (TRADES repo)      | 6    |
 * | mart     | 0.01 | 3.5e-3       | 128   | 120    | 75 / 90 / 100    (MART ResNet-18 script) | 6 |
 * | mma      | 0.1  | 2e-4         | 128   | 100    | 75 / 90          (uniform recipe, §3.2) | - |
 *
 * `paper`: ResNet-18 (width 64), spec §1 augmentation (pad 4, crop, flip), PGD-10 step 0.007 eps
 * 8/255 for training; SVHN uses lr 0.01 (A12). Meant for a GPU.
 * `cpu`: small-cnn width 8, the first 250 training images per class, 3 epochs of batch 32 (237
 * steps), lr 0.1 (0.01 for mart, whose reference lr is 10x lower) and x0.1 in the last epoch, no
 * augmentation; per-epoch evaluation (PGD-10) on the first 20 test images per class. Measured on
 * the torch engine (a shared, overloaded 2-core box): the whole Fashion-MNIST TRADES run took
 * 631 s of CPU time (natural: 178 s), i.e. ~10.5 minutes on one dedicated core. Sized for minutes on 2 cores with the libtorch engine (see the README for
 * measured times; the pure-JS `cpu` backend is much slower on convolutions' backward pass).
 *
 * Attack budget per dataset: 32x32 colour data use the paper's eps 8/255 with step 0.007;
 * (Fashion-)MNIST use eps 0.1 with step 0.025 = 2.5·eps/10 (Madry's rule for 10 steps), since the
 * paper has no grey-scale setting (data/threat-model.ts).
 */
import type { Augment } from '../data/pipeline.js';
import { canonicalName } from '../data/load-dataset.js';
import { isMnistFamily, threatModelOf } from '../data/threat-model.js';
import { TRAIN_ATTACK_DEFAULTS, type TrainAttackOptions } from './recipes/classifier-recipe.js';
import { TRADES_DEFAULTS } from './recipes/trades.js';
import { MART_DEFAULTS } from './recipes/mart.js';

/** Target-model recipes `trainTarget` / `jatp train-target --recipe` know. */
export const TARGET_RECIPES = ['natural', 'standard', 'trades', 'mart', 'mma', 'mma-original'] as const;
/** One of TARGET_RECIPES. */
export type TargetRecipeName = (typeof TARGET_RECIPES)[number];
/** Target-training presets: the paper's, or a CPU-scale one. */
export const TARGET_PRESETS = ['paper', 'cpu'] as const;
/** One of TARGET_PRESETS. */
export type TargetPresetName = (typeof TARGET_PRESETS)[number];

/** Everything that defines a target training run; stored in the run's config.json (`config`). */
export interface TargetConfig {
  kind: 'target';
  recipe: TargetRecipeName;
  preset: TargetPresetName;
  dataset: string;
  dataDir?: string;
  arch: string;
  /** Registry options besides numClasses/inChannels/inputSize, which come from the dataset. */
  archOptions: Record<string, unknown>;
  epochs: number;
  batchSize: number;
  optimizer: { kind: 'sgd'; lr: number; momentum: number; weightDecay: number };
  /** [epoch (1-based), lr multiplier from that epoch on] */
  lrMilestones: Array<[number, number]>;
  attack: TrainAttackOptions;
  /** TRADES / MART trade-off weight (ignored by the other recipes). */
  beta?: number;
  /** Original MMA's hinge margin d_max (spec §3.3(b)); default MMA_ORIGINAL_DEFAULTS.dMax. */
  dMax?: number;
  /** Train on the first N images of each class; undefined = all. */
  perClass?: number;
  augment: Augment;
  evaluation: {
    /** Test images per class for the per-epoch evaluation (0 = no evaluation). */
    perClass: number;
    /** Evaluation PGD (L-inf, CE, uniform random start): steps and step size; eps = attack.eps. */
    pgdSteps: number;
    pgdStepSize: number;
  };
  seed: number;
  checkpointEverySteps: number;
}

/** A target recipe name from text (`natural`, `standard`, `trades`, ...); throws naming `--recipe` and the valid names otherwise. */
export function parseTargetRecipe(name: string): TargetRecipeName {
  if (!(TARGET_RECIPES as readonly string[]).includes(name)) throw new Error(`--recipe: '${name}' is not one of ${TARGET_RECIPES.join(', ')}`);
  return name as TargetRecipeName;
}

/** A target preset name from text (`paper`, `cpu`, ...); throws naming `--preset` and the valid names otherwise. */
export function parseTargetPreset(name: string): TargetPresetName {
  if (!(TARGET_PRESETS as readonly string[]).includes(name)) throw new Error(`--preset: '${name}' is not one of ${TARGET_PRESETS.join(', ')}`);
  return name as TargetPresetName;
}

/** The preset configuration for a recipe on a dataset (before command-line overrides). */
export function targetPreset(recipe: TargetRecipeName, preset: TargetPresetName, dataset: string): TargetConfig {
  const name = dataset.startsWith('folder:') ? dataset : canonicalName(dataset);
  // The dataset's threat model decides the training attack's budget and step (data/threat-model.ts).
  const threat = threatModelOf(name);
  const grey = isMnistFamily(name);
  const attack = { ...TRAIN_ATTACK_DEFAULTS, eps: threat.eps, stepSize: threat.trainAttackStepSize };
  const beta = recipe === 'trades' ? TRADES_DEFAULTS.beta : recipe === 'mart' ? MART_DEFAULTS.beta : undefined;
  const base = {
    kind: 'target' as const,
    recipe,
    preset,
    dataset: name,
    attack,
    ...(beta !== undefined ? { beta } : {}),
    seed: 0,
  };
  if (preset === 'paper') {
    const repo: Record<TargetRecipeName, { lr: number; wd: number; batch: number; epochs: number; milestones: Array<[number, number]> }> = {
      natural: { lr: 0.1, wd: 2e-4, batch: 128, epochs: 100, milestones: [[75, 0.1], [90, 0.01]] },
      standard: { lr: 0.1, wd: 2e-4, batch: 256, epochs: 100, milestones: [[75, 0.1], [90, 0.01]] },
      trades: { lr: 0.1, wd: 2e-4, batch: 128, epochs: 76, milestones: [[75, 0.1], [90, 0.01], [100, 0.001]] },
      mart: { lr: 0.01, wd: 3.5e-3, batch: 128, epochs: 120, milestones: [[75, 0.1], [90, 0.01], [100, 0.001]] },
      mma: { lr: 0.1, wd: 2e-4, batch: 128, epochs: 100, milestones: [[75, 0.1], [90, 0.01]] },
      // BorealisAI/mma_training: 50k steps of batch 128 with lr 0.3 -> 0.09 (20k) -> 0.03 (30k) -> 0.009
      // (40k) on a 45k train split = ~142 epochs with drops at ~57, 85, 114 (spec §3.3(b)).
      'mma-original': { lr: 0.3, wd: 2e-4, batch: 128, epochs: 142, milestones: [[57, 0.3], [85, 0.1], [114, 0.03]] },
    };
    const r = repo[recipe];
    // spec A12: SVHN target training uses lr 0.01 (MART's reference is already 0.01).
    const lr = name === 'svhn' ? Math.min(r.lr, 0.01) : r.lr;
    return {
      ...base,
      arch: 'resnet18',
      archOptions: { width: 64 },
      epochs: r.epochs,
      batchSize: r.batch,
      optimizer: { kind: 'sgd', lr, momentum: 0.9, weightDecay: r.wd },
      lrMilestones: r.milestones,
      augment: grey ? 'none' : 'crop-flip',
      evaluation: { perClass: 100, pgdSteps: 20, pgdStepSize: threat.evalStepSize },
      checkpointEverySteps: 200,
    };
  }
  return {
    ...base,
    arch: 'small-cnn',
    archOptions: { width: 8 },
    epochs: 3,
    batchSize: 32,
    optimizer: { kind: 'sgd', lr: recipe === 'mart' ? 0.01 : 0.1, momentum: 0.9, weightDecay: recipe === 'mart' ? 3.5e-3 : 2e-4 },
    lrMilestones: [[3, 0.1]],
    perClass: 250,
    augment: 'none',
    evaluation: { perClass: 20, pgdSteps: 10, pgdStepSize: 2.5 * attack.eps / 10 },
    checkpointEverySteps: 20,
  };
}

