/**
 * The settings of a dry run: a scale's presets as they are (networks, attack budgets, optimizers,
 * schedules, augmentation), with only the amount of work shrunk: one epoch over the first image of
 * each class in batches of 2 (so every training takes a few optimizer steps), a 2-image per-epoch
 * evaluation, and 2 test images per attack. Whatever breaks at the real sizes (a shape, a dtype, a
 * memory leak) breaks here in seconds instead of after an hour of setup on a GPU.
 */
import type { TargetConfig } from '../../targets/presets.js';
import type { DefenseConfig } from '../../defenses/presets.js';
import type { ScaleSettings } from './scales.js';

/** How much work a dry run does per cell. */
export const DRY_RUN_WORK = {
  /** Training images per class: with 10 classes and batches of 2, an epoch is 5 optimizer steps. */
  perClass: 1,
  batchSize: 2,
  /** Test images per attack and in a defense's per-epoch evaluation. */
  evalCount: 2,
} as const;

/** Changes a preset before the dry run shrinks it (a test's deliberately wrong preset). */
export interface PresetOverride {
  readonly target?: (c: TargetConfig) => TargetConfig;
  readonly defense?: (c: DefenseConfig) => DefenseConfig;
}

/** `base`'s settings with the dry run's amount of work; `override` edits the presets first. */
export function dryRunScale(base: ScaleSettings, override: PresetOverride = {}): ScaleSettings {
  const target = override.target ?? ((c: TargetConfig) => c);
  const defense = override.defense ?? ((c: DefenseConfig) => c);
  return {
    ...base,
    evalCount: DRY_RUN_WORK.evalCount,
    evalBatchSize: DRY_RUN_WORK.evalCount,
    galleryCount: 1,
    // Attacks stay at the scale's budget (the paper's PGD-40, AutoAttack standard, ...).
    targetConfig: (recipe, dataset, seed) => {
      const c = target(base.targetConfig(recipe, dataset, seed));
      return {
        ...c,
        epochs: 1,
        batchSize: DRY_RUN_WORK.batchSize,
        perClass: DRY_RUN_WORK.perClass,
        // The per-epoch evaluation (the preset's PGD on one test image per class, the smallest
        // per-class subset) costs ten optimizer steps here; it is the same function for every recipe,
        // so only the TRADES target runs it.
        evaluation: { ...c.evaluation, perClass: recipe === 'trades' ? Math.min(1, c.evaluation.perClass) : 0 },
        checkpointEverySteps: 0,
      };
    },
    defenseConfig: (method, dataset, examples, ablation) => {
      const c = defense(base.defenseConfig(method, dataset, examples, ablation));
      return {
        ...c,
        epochs: 1,
        batchSize: DRY_RUN_WORK.batchSize,
        perClass: DRY_RUN_WORK.perClass,
        evaluation: { ...c.evaluation, count: Math.min(DRY_RUN_WORK.evalCount, c.evaluation.count) },
      };
    },
  };
}
