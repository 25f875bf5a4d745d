/**
 * The toolkit code the audit worker runs, in one place: the attacks (plain tfjs, any backend), the
 * uint8 -> float batch conversion and the report assembly behind `jatp eval --json`. The worker
 * cannot import the package's root entry (it also loads the Node-only `torch` engine and file
 * readers), so it takes these browser-safe modules directly; when the toolkit moves a module, only
 * this file changes.
 */
export { buildAttack, parseAttackSpec, type AttackSpec } from 'jatp/dist/attacks/registry.js';
export type { AutoAttackReport } from 'jatp/dist/attacks/autoattack.js';
export { toFloatBatch } from 'jatp/dist/data/pipeline.js';
export type { Split } from 'jatp/dist/data/types.js';
export { assembleReport, attackLabel, batchRanges, type EvaluationReport } from 'jatp/dist/evaluation/evaluate.js';
export type { EvaluationState, AttackBatchRecord } from 'jatp/dist/evaluation/eval-state.js';
export { cliEvalJson } from 'jatp/dist/evaluation/eval-json.js';
