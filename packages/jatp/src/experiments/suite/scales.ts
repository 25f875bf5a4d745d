/**
 * The three scales an experiment runs at. Each turns a cell (target recipe, defense method, ...) into
 * the exact training configuration and attack budget it uses:
 *
 * - `smoke`: tiny networks, a handful of images, 1 epoch, 2-step attacks, a 2-iteration AutoAttack;
 *   exercises every experiment end to end in seconds (run by `npm test`). Its numbers mean nothing.
 * - `cpu`: the `cpu` presets of `train-target` / `train-defense` (small CNN on Fashion-MNIST, ε = 0.1;
 *   on CIFAR-10 a ResNet-18 of width 8 on 250 images per class, ε = 8/255), the paper's attack budgets
 *   on the first 200 test images.
 * - `evidence`: the `cpu` networks and data, but every pre-processor trains until its own objective
 *   plateaus (defenses/plateau.ts) with its paper learning-rate factors, and every cell is scored on the
 *   first 1,000 test images, so that a difference of a few points is outside the noise. Its AutoAttack
 *   column is APGD-CE + APGD-T (3 target classes, 100 iterations each) on all points: the standard
 *   suite (9 targets, FAB-T, Square) costs ~45 PGD-40 runs per model and, by `plan`, would not finish
 *   Table 1 at this size within a day of 2 cores.
 * - `paper`: the `paper` presets (ResNet-18 width 64, full data, spec schedules) and the whole test set.
 */
import { targetPreset, type TargetConfig, type TargetRecipeName } from '../../targets/presets.js';
import { defenseDefaults, withPlateau, type DefenseConfig, type DefenseMethod } from '../../defenses/presets.js';
import type { AttackSpec } from '../../attacks/attack-specs.js';
import { buildAttack, parseAttackSpec } from '../../attacks/attack-specs.js';
import { autoAttackCustom } from '../../attacks/autoattack.js';
import type { Attack } from '../../attacks/types.js';
import type { BallNorm } from '../../attacks/ball-and-losses.js';
import { PAPER_EPS, threatModelOf } from '../../data/threat-model.js';

/** The scales an experiment runs at: smoke (seconds), cpu (2 cores), evidence (cpu networks trained to a plateau, 1,000 images), paper (GPU). */
export const SCALES = ['smoke', 'cpu', 'evidence', 'paper'] as const;
/** One of `SCALES`. */
export type ScaleName = (typeof SCALES)[number];

/**
 * The paper's attack columns (spec §5), BPDA (Fig. 4(a)) and OBL: PGD made against the target alone and
 * scored on the full model (the oblivious setting each baseline was designed for; see oblivious.ts).
 */
export const ATTACK_COLUMNS = ['PGD', 'DLR', 'AA', 'FWA', 'TI-BIM', 'BPDA', 'OBL'] as const;
/** One of `ATTACK_COLUMNS`. */
export type AttackColumn = (typeof ATTACK_COLUMNS)[number];

export type Ablation = 'none' | 'no-pixel' | 'no-bce' | 'no-fsm';
export type ExampleKind = 'obl' | 'full';

/** Checks a --scale value; throws naming the flag and the valid scales. */
export function parseScale(text: string): ScaleName {
  if ((SCALES as readonly string[]).includes(text)) return text as ScaleName;
  throw new Error(`--scale: '${text}' is not one of ${SCALES.join(', ')}`);
}

/** L∞ budget of a dataset (data/threat-model.ts): the paper's 8/255 on colour 32x32 data, the customary 0.1 on (Fashion-)MNIST. */
export function datasetEps(dataset: string): number {
  return threatModelOf(dataset).eps;
}

const PAPER_ATTACKS: Record<AttackColumn, string> = { PGD: 'pgd40', DLR: 'dlr40', AA: 'aa', FWA: 'fwa20', 'TI-BIM': 'tibim40', BPDA: 'bpda40', OBL: 'pgd40' };
const SMOKE_ATTACKS: Record<AttackColumn, string> = { PGD: 'pgd2', DLR: 'dlr2', AA: 'aa', FWA: 'fwa2', 'TI-BIM': 'tibim2', BPDA: 'bpda2', OBL: 'pgd2' };

export interface ScaleSettings {
  readonly name: ScaleName;
  /** Test images evaluated (the first N of the test split); undefined = all. */
  readonly evalCount?: number;
  readonly evalBatchSize: number;
  /** Test images shown in the report's image grid. */
  readonly galleryCount: number;
  attackText(column: AttackColumn): string;
  /** Builds an attack; the smoke scale shrinks AutoAttack to two 2-iteration APGD stages. */
  buildAttack(spec: AttackSpec, eps: number, norm: BallNorm): Attack;
  targetConfig(recipe: TargetRecipeName, dataset: string, seed: number): TargetConfig;
  defenseConfig(method: DefenseMethod, dataset: string, examples: ExampleKind | undefined, ablation: Ablation): DefenseConfig;
}

/** ε and the attack step sizes of a defense preset (written for 8/255) moved to the dataset's budget. */
function withEps(c: DefenseConfig, eps: number): DefenseConfig {
  const scale = eps / PAPER_EPS;
  return {
    ...c,
    ...(c.jatp ? { jatp: { ...c.jatp, eps, attackStepSize: c.jatp.attackStepSize * scale } } : {}),
    ...(c.baseline ? { baseline: { ...c.baseline, eps, attackStepSize: c.baseline.attackStepSize * scale } } : {}),
  };
}

function withCellSwitches(c: DefenseConfig, examples: ExampleKind | undefined, ablation: Ablation): DefenseConfig {
  let out = c;
  if (out.baseline && examples !== undefined) out = { ...out, baseline: { ...out.baseline, examples: examples === 'obl' ? 'oblivious' : 'full' } };
  if (ablation !== 'none') {
    if (!out.jatp) throw new Error(`ablation '${ablation}' applies to JATP only, not '${c.method}'`);
    const loss = { ...out.jatp.loss, ...(ablation === 'no-pixel' ? { noPixel: true } : ablation === 'no-bce' ? { noBce: true } : { noFsm: true }) };
    out = { ...out, jatp: { ...out.jatp, loss } };
  }
  return out;
}

const TINY_NETS: Record<string, Record<string, unknown>> = {
  'jatp-purifier': { nf: 4, gc: 2, nb: 1 },
  nrp: { nf: 4, gc: 2, nb: 1 },
  hgd: { widthScale: 0.0625 },
  'nrp-discriminator': { numFeat: 4 },
};

const smoke: ScaleSettings = {
  name: 'smoke',
  evalCount: 6,
  evalBatchSize: 6,
  galleryCount: 2,
  attackText: (c) => SMOKE_ATTACKS[c],
  buildAttack: (spec, eps, norm) =>
    spec.family === 'aa'
      ? autoAttackCustom([{ attack: 'apgd-ce', options: { nIter: 2 } }, { attack: 'apgd-t', options: { nIter: 2, nTargetClasses: 2 } }], { eps, norm })
      : buildAttack(spec, { eps, norm }),
  targetConfig: (recipe, dataset, seed) => {
    const base = targetPreset(recipe, 'cpu', dataset);
    // targetPreset already picks the training ε of the dataset.
    return {
      ...base,
      archOptions: { width: 2 },
      epochs: 1,
      batchSize: 8,
      lrMilestones: [],
      perClass: 4,
      attack: { ...base.attack, steps: 2 },
      evaluation: { ...base.evaluation, perClass: 1, pgdSteps: 1 },
      checkpointEverySteps: 0,
      seed,
    };
  },
  defenseConfig: (method, dataset, examples, ablation) => {
    const base = defenseDefaults(method, 'cpu');
    const shrink = (n: { arch: string; options: Record<string, unknown> }) => ({ arch: n.arch, options: { ...n.options, ...(TINY_NETS[n.arch] ?? {}) } });
    const tiny: DefenseConfig = {
      ...base,
      purifier: shrink(base.purifier),
      ...(base.discriminator ? { discriminator: shrink(base.discriminator) } : {}),
      epochs: 1,
      batchSize: 6,
      perClass: 4,
      lrMilestones: [],
      ...(base.jatp ? { jatp: { ...base.jatp, attackSteps: 1 } } : {}),
      ...(base.baseline ? { baseline: { ...base.baseline, attackSteps: 2 } } : {}),
      evaluation: { count: 0, pgdSteps: 0, pgdStepSize: 0.01 },
    };
    return withCellSwitches(withEps(tiny, datasetEps(dataset)), examples, ablation);
  },
};

const cpu: ScaleSettings = {
  name: 'cpu',
  // AutoAttack (standard) costs ~45 PGD-40 runs per model and dominates; 200 images keep Table 1 near
  // an hour on 2 cores (binomial standard error of an accuracy near 50%: 3.5 points).
  evalCount: 200,
  evalBatchSize: 100,
  galleryCount: 4,
  attackText: (c) => PAPER_ATTACKS[c],
  buildAttack: (spec, eps, norm) => buildAttack(spec, { eps, norm }),
  targetConfig: (recipe, dataset, seed) => {
    const base = targetPreset(recipe, 'cpu', dataset);
    if (/mnist/.test(dataset)) return { ...base, seed };
    // 32x32 colour data: the small CNN is too weak to show anything; a narrow ResNet-18 is the
    // cheapest network of the paper's family (spec §3.1 with width 8 instead of 64).
    return { ...base, arch: 'resnet18', archOptions: { width: 8 }, epochs: 5, lrMilestones: [[5, 0.1]], seed };
  },
  defenseConfig: (method, dataset, examples, ablation) =>
    withCellSwitches(withEps(defenseDefaults(method, 'cpu'), datasetEps(dataset)), examples, ablation),
};

/**
 * The evidence scale's plateau rule, fixed before any of its runs: an epoch is one pass over the
 * 1,000-image training subset (20 steps of 50); a phase ends after 3 epochs without a 1 % improvement
 * of the epoch-mean objective; at most 30 epochs (600 steps, 6x the `cpu` preset's 100).
 */
export const EVIDENCE_PLATEAU = { patience: 3, minRelativeImprovement: 0.01, maxEpochs: 30 } as const;

const evidence: ScaleSettings = {
  name: 'evidence',
  // 1,000 images: binomial standard error of an accuracy near 50 % is 1.6 points.
  evalCount: 1000,
  evalBatchSize: 250,
  galleryCount: 4,
  attackText: (c) => PAPER_ATTACKS[c],
  buildAttack: (spec, eps, norm) =>
    spec.family === 'aa'
      ? autoAttackCustom(['apgd-ce', { attack: 'apgd-t', options: { nTargetClasses: 3 } }], { eps, norm })
      : buildAttack(spec, { eps, norm }),
  targetConfig: (recipe, dataset, seed) => cpu.targetConfig(recipe, dataset, seed),
  defenseConfig: (method, dataset, examples, ablation) =>
    withCellSwitches(withEps(withPlateau(defenseDefaults(method, 'cpu'), EVIDENCE_PLATEAU), datasetEps(dataset)), examples, ablation),
};

const paper: ScaleSettings = {
  name: 'paper',
  evalCount: undefined,
  evalBatchSize: 100,
  galleryCount: 4,
  attackText: (c) => PAPER_ATTACKS[c],
  buildAttack: (spec, eps, norm) => buildAttack(spec, { eps, norm }),
  targetConfig: (recipe, dataset, seed) => ({ ...targetPreset(recipe, 'paper', dataset), seed }),
  defenseConfig: (method, dataset, examples, ablation) =>
    withCellSwitches(withEps(defenseDefaults(method, 'paper'), datasetEps(dataset)), examples, ablation),
};

/** The settings of every scale by name (`smoke`, `cpu`, `evidence`, `paper`): attack budgets, eval counts, presets. */
export const SCALE_SETTINGS: Readonly<Record<ScaleName, ScaleSettings>> = { smoke, cpu, evidence, paper };

export function attackSpec(scale: ScaleSettings, column: AttackColumn): AttackSpec {
  return parseAttackSpec(scale.attackText(column));
}
