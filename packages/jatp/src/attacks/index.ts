/**
 * The attacks module: adaptive white-box (and score-based) attacks on any x -> logits function, usually
 * the full model T ∘ clip01 ∘ P (spec §5). One attack per file; shared pieces in ball-and-losses.ts; names with
 * budgets (`pgd40`, `aa`, ...) in attack-specs.ts.
 */
export type { Attack, AttackResult, Norm, ThreatModel } from './types.js';
export * from './ball-and-losses.js';
export * from './pgd.js';
export * from './apgd.js';
export * from './autoattack.js';
export * from './tibim.js';
export * from './bpda.js';
export * from './eot.js';
export * from './feature-attack.js';
export * from './attack-specs.js';
export { square, squareP, squareSide, SQUARE_DEFAULTS, type SquareOptions } from './square.js';
export { fabT, fabTargetedRun, FAB_DEFAULTS, type FabOptions, type FabRunResult } from './fab.js';
export { fwa, fwaRun, FWA_DEFAULTS, type FwaOptions, type FwaRunResult } from './fwa.js';
export { asLogitsFn, prepareRun, type AttackModel, type RunOptions, type SeedOrOptions, type HasLogits, type LayersModelLike, type PredictsLike, type AppliesInInferenceMode } from './model.js';
export { attackRemaining, replaceRows, type Stage, type StageOutcome, type RemainingResult } from './attack-remaining.js';
