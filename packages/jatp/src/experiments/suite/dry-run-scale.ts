/**
 * The settings of a dry run: a scale's presets as they are (networks, attack budgets, optimizers,
 * schedules, augmentation), with the amount of work shrunk: one epoch over the first image of each
 * class in batches of 2 (so every training takes a few optimizer steps), a 1-image per-epoch
 * evaluation, and 1 test image per attack. One change besides the work: JATP's learning rate is
 * scaled by `dryRunLrFactor` (its preset diverges against the dry run's 5-step target, in PyTorch too). Whatever breaks at the real sizes (a shape, a dtype, a
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
  /**
   * JATP and JATP′ train at this fraction of their preset's learning rate (schedule unchanged, and
   * checked against the preset): see `dryRunLrFactor`.
   */
  jatpLrFactor: 1e-4,
} as const;

/**
 * The learning-rate factor the dry run applies to a defense method (1: the preset's rate).
 *
 * Why JATP gets 1e-4: its paper preset (SGD 0.01, momentum 0.9) diverges against the dry run's
 * target, and PyTorch diverges the same way, so no engine error drives it. Measured on the CIFAR-10
 * copy (2026-12-07), batch 2, paper-size purifier from its default init, the dry run's 5-step TRADES
 * ResNet-18 (batch norm calibrated): the toolkit's loss 4.22 -> 7581 -> 7.7e15 -> NaN at lr 0.01,
 * PyTorch's twin of the same loop 4.24 -> 7616 -> 7.0e15 -> NaN; one step on the same batch agrees to
 * 4e-6 (loss terms and updated weights), and the purifier's gradients and SGD steps alone agree to
 * ~1e-6 (test/training/purifier-sgd-reference.test.ts). The cause is the stand-in target: trained for
 * five steps, with batch-norm statistics from ten images, it answers the untrained purifier's
 * off-range outputs with huge logits (on the dry run's own first batch: boosted cross-entropy 2025,
 * gradient norm 3.8e4), nothing like the robust 76-epoch TRADES target the paper trains against. At
 * 1/100 of the rate the dry run's JATP was still NaN by step 4; at 1e-4 of it the first update is
 * ~0.2% of the weights' norm. A step's cost does not depend on its learning rate, so the plan's
 * per-step times are unaffected; whether the preset converges against a real target at batch 128 is
 * for the first epoch of a real run to show.
 */
export function dryRunLrFactor(method: string): number {
  return method === 'jatp' || method === 'jatp-joint' ? DRY_RUN_WORK.jatpLrFactor : 1;
}

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
      const factor = dryRunLrFactor(method);
      return {
        ...c,
        optimizers: Object.fromEntries(Object.entries(c.optimizers).map(([g, o]) => [g, { ...o, lr: o.lr * factor }])),
        epochs: 1,
        batchSize: DRY_RUN_WORK.batchSize,
        perClass: DRY_RUN_WORK.perClass,
        evaluation: { ...c.evaluation, count: Math.min(DRY_RUN_WORK.evalCount, c.evaluation.count) },
      };
    },
  };
}
