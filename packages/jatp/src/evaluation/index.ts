/**
 * `jatp/evaluation`: how one full model is attacked and scored — `evaluate` (resume, shards,
 * `mergeStates`), loading a pipeline, the test split, the gradient-masking sanity card, saved
 * examples, the eval JSON and comparison tables and charts.
 */
export { evaluate, assembleReport, mergeStates, attackLabel, EVALUATION_DEFAULTS, type EvaluatedModel, type EvaluationOptions, type EvaluationReport, type AttackEvaluation, type StageAccuracy, type AttackBatch } from './evaluate.js';
export { loadPipeline, loadTfjsClassifier, PIXEL_RANGES, type LoadedPipeline, type PixelRange } from './load-pipeline.js';
export { readState, type EvaluationKey, type EvaluationState, type ShardSpec } from './eval-state.js';
export { squareAfterGradientCheck, SQUARE_WARN_FRACTION, type SquareCheck, type StageResult } from './square-check.js';
export { loadTestSplit, type TestSplit } from './test-split.js';
export { sanityCard, formatSanityCard, sweepSvg, type SanityCard, type SanityCheck, type CheckStatus, type SweepPoint, type SanityOptions } from './sanity.js';
export { prepareExamplesDir, examplesWriter, evaluateExamples, writeContactSheets, readManifest, EXAMPLES_FORMAT, type ExamplesManifest } from './examples.js';
export { markdownTable, barChartSvg, type ReportRow } from './comparison.js';
export {
  readEvalJson,
  writeEvalJson,
  evalJsonText,
  cliEvalJson,
  leaderboardEntry,
  formatReport,
  squareChecks,
  type EvalJson,
  type EvalContext,
  type EvaluatedDescription,
  type LeaderboardEntry,
} from './eval-json.js';
