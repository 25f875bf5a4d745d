/**
 * `jatp/training`: the shared training loop (`runTraining`) with checkpoint/resume, optimisers,
 * progress, the `Recipe` interface, data-parallel training and the per-epoch clean + PGD accuracy.
 */
export { runTraining, readRunConfig, latestCheckpoint, piecewiseSchedule, listCheckpoints, type LrSchedule, type TrainingData, type TrainingRunOptions, type RunSummary, type RunConfigFile } from './loop.js';
export type { Batch, Recipe } from './types.js';
export { silentProgress, stderrProgress, type ProgressSink, type StepProgress } from './progress.js';
export { createOptimizer, SgdMomentum, Adam, OPTIMIZER_DEFAULTS, type OptimizerSpec } from './optim.js';
export { enableDataParallel, type DataParallelGroup, type DataParallelOptions } from './data-parallel.js';
export { accuracyUnderPgd, type PgdAccuracyOptions } from './pgd-accuracy.js';
