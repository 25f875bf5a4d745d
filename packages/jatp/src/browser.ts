/**
 * `jatp/browser`: the part of the toolkit a browser page or worker runs — every attack (plain tfjs,
 * any backend), the uint8 → float batch conversion, and the report assembly and eval JSON of
 * `jatp eval`. The package root and the other rooms also load the Node-only `torch` engine and file
 * readers; the modules re-exported here only name Node built-ins inside functions a browser never
 * calls, so a bundler can stub them.
 */
export * from './attacks/index.js';
export { toFloatBatch } from './data/pipeline.js';
export type { Split } from './data/types.js';
export { assembleReport, attackLabel, batchRanges, type EvaluationReport } from './evaluation/evaluate.js';
export type { EvaluationState, AttackBatchRecord } from './evaluation/eval-state.js';
export { cliEvalJson } from './evaluation/eval-json.js';
export { batchDistances, correctMask, isRandomized, type BatchDistances } from './evaluation/batch-scoring.js';
