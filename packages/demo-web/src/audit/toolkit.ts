/**
 * The toolkit code the audit worker runs, in one place: the attacks (plain tfjs, any backend), the
 * uint8 -> float batch conversion and the report assembly behind `jatp eval --json`. The worker
 * cannot import the package's root entry (it also loads the Node-only `torch` engine and file
 * readers), so it takes them from the package's browser subpath, `jatp/browser`.
 */
export {
  buildAttack,
  parseAttackSpec,
  toFloatBatch,
  assembleReport,
  attackLabel,
  batchRanges,
  batchDistances,
  correctMask,
  isRandomized,
  cliEvalJson,
  type AttackSpec,
  type AutoAttackReport,
  type Split,
  type EvaluationReport,
  type EvaluationState,
  type AttackBatchRecord,
} from 'jatp/browser';
