/**
 * AutoAttack (Croce & Hein, "Reliable evaluation of adversarial robustness with an ensemble of diverse
 * parameter-free attacks", ICML 2020), L∞ 'standard' version and 'custom' stage lists (spec §5.3).
 *
 * The evaluation is data: an ordered list of stages (attack name + options). Clean accuracy is computed
 * first (misclassified points count as non-robust and are never attacked); each stage then runs only on
 * the points that every earlier stage failed to fool, and the robust accuracy after each stage is
 * reported. A point is robust iff it survives all stages, so the final accuracy is <= every stage's.
 *
 * Standard stages (STANDARD_STAGES): APGD-CE (100 iters, 1 restart) -> APGD-T (9 targets x 1 restart x
 * 100 iters) -> FAB-T (9 targets x 100 iters) -> Square (5000 queries, p_init 0.8).
 *
 * Options (defaults in AUTOATTACK_DEFAULTS):
 * - norm: 'Linf' | 'L2'      = 'Linf' (Square and FAB-T stages are L∞ here)
 * - eps: ball radius         = 8/255
 * - version: 'standard' | 'custom' = 'standard'
 * - stages: stage list used when version = 'custom' (names from STAGE_NAMES, optional options) = []
 * - onStage: callback after each stage (for progress output)    = undefined
 *
 * Stages whose implementation is unavailable are skipped with a process warning (and marked `skipped`
 * in the report).
 *
 * Shapes: x [N,H,W,C] in [0,1], y [N]; xAdv has x's shape.
 *
 * Usage:
 *   const aa = autoAttack({ eps: 8 / 255 });
 *   const report = aa.evaluate(fullModel, x, y, 0); // report.stages[i].robustAccuracy, report.xAdv
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LogitsFn } from '../models/types.js';
import type { Attack, AttackResult } from './types.js';
import { type AttackModel, type SeedOrOptions, prepareRun } from './model.js';
import { apgdCe, apgdT } from './apgd.js';
import { square } from './square.js';
import { fabT } from './fab.js';
import { type BallNorm, checkInputs } from './ball-and-losses.js';
import { attackRemaining } from './attack-remaining.js';
import { PAPER_EPS } from '../data/threat-model.js';

/** Stage names AutoAttack understands (also its custom stage lists). */
export const STAGE_NAMES = ['apgd-ce', 'apgd-t', 'fab-t', 'square', 'apgd-dlr'] as const;
/** One of STAGE_NAMES. */
export type StageName = (typeof STAGE_NAMES)[number];

/** One stage of a custom AutoAttack: the attack and its options. Example: `{ attack: 'apgd-ce', options: { nIter: 20 } }`. */
export interface StageConfig {
  readonly attack: StageName;
  /** Options passed to the stage's factory on top of { eps } (and norm where the attack has one). */
  readonly options?: Readonly<Record<string, unknown>>;
}

/** AutoAttack 'standard', L∞ (spec §5.3). */
export const STANDARD_STAGES: readonly StageConfig[] = [
  { attack: 'apgd-ce', options: { nIter: 100, nRestarts: 1 } },
  { attack: 'apgd-t', options: { nIter: 100, nRestarts: 1, nTargetClasses: 9 } },
  { attack: 'fab-t', options: { nIter: 100, restarts: 1, nTargetClasses: 9 } },
  { attack: 'square', options: { nQueries: 5000, pInit: 0.8, restarts: 1 } },
];

/** What AutoAttack reports after each stage (robust accuracy so far, points fooled, time). */
export interface StageReport {
  readonly name: StageName;
  /** Robust accuracy over all N points after this stage (fraction). */
  readonly robustAccuracy: number;
  /** Points this stage fooled. */
  readonly newlyFooled: number;
  readonly skipped: boolean;
  readonly seconds: number;
}

/** AutoAttack's result: the AttackResult plus clean accuracy, per-stage reports and the final robust accuracy. */
export interface AutoAttackReport extends AttackResult {
  readonly cleanAccuracy: number;
  readonly stages: readonly StageReport[];
  readonly robustAccuracy: number;
}

/** Options of AutoAttack (defaults: AUTOATTACK_DEFAULTS: L∞, ε = 8/255, version 'standard'). */
export interface AutoAttackOptions {
  readonly norm: BallNorm;
  readonly eps: number;
  readonly version: 'standard' | 'custom';
  readonly stages: readonly StageConfig[];
  readonly onStage?: (report: StageReport) => void;
}

/** Defaults of AutoAttack: L∞, ε = 8/255, the standard stage list (spec §5.3). */
export const AUTOATTACK_DEFAULTS: AutoAttackOptions = { norm: 'Linf', eps: PAPER_EPS, version: 'standard', stages: [] };

type StageFactory = (norm: BallNorm, eps: number, options: Readonly<Record<string, unknown>>) => Attack | undefined;

/** How each stage name becomes an Attack (undefined: not available for this norm, stage skipped). */
const STAGE_FACTORIES: Record<StageName, StageFactory> = {
  'apgd-ce': (norm, eps, options) => apgdCe({ ...options, norm, eps }),
  'apgd-t': (norm, eps, options) => apgdT({ ...options, norm, eps }),
  'apgd-dlr': (norm, eps, options) => apgdCe({ ...options, norm, eps, loss: 'dlr' }),
  'fab-t': (norm, eps, options) => (norm === 'Linf' ? fabT({ ...options, eps }) : undefined),
  square: (norm, eps, options) => (norm === 'Linf' ? square({ ...options, eps }) : undefined),
};

/** AutoAttack as an Attack whose `run` returns the full report. Example: `autoAttack({ eps: 8 / 255 }).run(model, x, y).robustAccuracy`. */
export class AutoAttack implements Attack {
  readonly name: string;
  readonly options: AutoAttackOptions;
  readonly stageList: readonly StageConfig[];

  constructor(options: Partial<AutoAttackOptions> = {}) {
    this.options = { ...AUTOATTACK_DEFAULTS, ...options };
    const o = this.options;
    if (o.version === 'custom') {
      if (o.stages.length === 0) throw new Error(`autoattack: version 'custom' needs a non-empty stage list (${STAGE_NAMES.join(', ')})`);
      for (const s of o.stages) {
        if (!STAGE_NAMES.includes(s.attack)) {
          throw new Error(`autoattack: unknown stage '${String(s.attack)}'; valid stages: ${STAGE_NAMES.join(', ')}`);
        }
      }
    }
    this.stageList = o.version === 'standard' ? STANDARD_STAGES : o.stages;
    this.name = o.version === 'standard' ? 'aa' : `aa-custom(${this.stageList.map((s) => s.attack).join(',')})`;
  }

  /** The full report (an AttackResult with the per-stage accuracies), so callers can show the stages. */
  run(model: AttackModel, x: tf.Tensor4D, y: tf.Tensor1D, options?: SeedOrOptions): AutoAttackReport {
    return this.evaluate(model, x, y, options);
  }

  /** Run every stage on the still-robust points; report robust accuracy after each stage. */
  evaluate(attacked: AttackModel, x: tf.Tensor4D, y: tf.Tensor1D, options?: SeedOrOptions): AutoAttackReport {
    // Normalised (and EOT-wrapped) once; every stage then receives the same x -> logits function.
    const { model, seed } = prepareRun(attacked, options);
    const o = this.options;
    checkInputs(this.name, x, y, o.eps);
    const n = x.shape[0];
    const cleanMask = tf.tidy(() => tf.equal(tf.argMax(model(x), 1), tf.cast(y, 'int32')));
    // Host flags shared with attackRemaining: a point is fooled once any stage (or the clean check) fools it.
    const fooled = Array.from(cleanMask.dataSync(), (v) => v === 0);
    cleanMask.dispose();
    const robustCount = (): number => fooled.filter((f) => !f).length;
    const cleanAccuracy = robustCount() / n;
    let xAdv = tf.clone(x);
    const stages: StageReport[] = [];

    this.stageList.forEach((stage, stageIndex) => {
      const started = Date.now();
      const attack = STAGE_FACTORIES[stage.attack](o.norm, o.eps, stage.options ?? {});
      let newlyFooled = 0;
      if (!attack) {
        process.emitWarning(`autoattack: stage '${stage.attack}' is unavailable for norm ${o.norm}; skipped (robust accuracy is an upper bound)`);
      } else {
        const merged = attackRemaining(x, y, xAdv, fooled, (xs, ys) => {
          // A distinct, reproducible seed per stage.
          const result = attack.run(model, xs, ys, (seed + 7919 * (stageIndex + 1)) >>> 0);
          // Trust but verify: a stage's claim counts only if the model really misclassifies its output.
          const verified = tf.tidy(() => tf.notEqual(tf.argMax(model(result.xAdv), 1), tf.cast(ys, 'int32')));
          const flags = verified.dataSync();
          verified.dispose();
          return { xAdv: result.xAdv, fooled: result.success.map((s, j) => s && flags[j] !== 0) };
        });
        xAdv = merged.xAdv;
        newlyFooled = merged.newlyFooled.length;
      }
      const report: StageReport = {
        name: stage.attack,
        robustAccuracy: robustCount() / n,
        newlyFooled,
        skipped: !attack,
        seconds: (Date.now() - started) / 1000,
      };
      stages.push(report);
      o.onStage?.(report);
    });

    return {
      xAdv,
      success: fooled.slice(),
      cleanAccuracy,
      stages,
      robustAccuracy: robustCount() / n,
    };
  }
}

/** AutoAttack factory: `autoAttack()` is the standard version; `autoAttackCustom(['apgd-ce', 'square'])` a custom one. */
export function autoAttack(options: Partial<AutoAttackOptions> = {}): AutoAttack {
  return new AutoAttack(options);
}

/** A custom AutoAttack from stage names or configs. Example: `autoAttackCustom(['apgd-ce', 'square'], { eps: 0.1 })`. */
export function autoAttackCustom(stages: readonly (StageName | StageConfig)[], options: Partial<AutoAttackOptions> = {}): AutoAttack {
  const list = stages.map((s) => (typeof s === 'string' ? { attack: s } : s));
  return new AutoAttack({ ...options, version: 'custom', stages: list });
}
