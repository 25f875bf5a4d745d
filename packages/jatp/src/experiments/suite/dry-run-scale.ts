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
import { STANDARD_STAGES, autoAttackCustom, type StageConfig } from '../../attacks/autoattack.js';

/** How much work a dry run does per cell. */
export const DRY_RUN_WORK = {
  /** Training images per class: with 10 classes and batches of 2, an epoch is 5 optimizer steps. */
  perClass: 1,
  batchSize: 2,
  /** Test images per attack and in a defense's per-epoch evaluation. */
  evalCount: 1,
  /** AutoAttack: each standard stage with its settings (9 target classes, restarts, p_init), iterations and Square's queries capped. */
  autoAttackIterations: 4,
  autoAttackQueries: 20,
} as const;

/**
 * AutoAttack's standard stages with only the iteration counts capped: on a robust image the standard
 * version costs ~11,000 forward-equivalents per image, an hour through the full-size purifier on 2 cores.
 */
export const DRY_RUN_AA_STAGES: readonly StageConfig[] = STANDARD_STAGES.map((s) => ({
  attack: s.attack,
  options: { ...s.options, ...(s.attack === 'square' ? { nQueries: DRY_RUN_WORK.autoAttackQueries } : { nIter: DRY_RUN_WORK.autoAttackIterations }) },
}));

/** Work of a robust image under AutoAttack in forward-pass units (a gradient step = forward + backward = 3): standard / dry run. */
export function autoAttackWorkRatio(): number {
  const work = (stages: readonly StageConfig[]) =>
    stages.reduce((a, s) => {
      const o = s.options ?? {};
      const targets = Number(o['nTargetClasses'] ?? 1);
      return a + (s.attack === 'square' ? Number(o['nQueries']) : 3 * targets * Number(o['nIter']));
    }, 0);
  return work(STANDARD_STAGES) / work(DRY_RUN_AA_STAGES);
}

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
    // Attacks stay at the scale's budget (the paper's PGD-40, DLR-40, FWA-20, ...), but AutoAttack's iterations are capped.
    buildAttack: (spec, eps, norm) => (spec.family === 'aa' ? autoAttackCustom(DRY_RUN_AA_STAGES, { eps, norm }) : base.buildAttack(spec, eps, norm)),
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
