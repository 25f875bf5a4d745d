/**
 * `jatp/experiments`: the paper's tables and figures as a grid of cells (docs/experiments.md) —
 * `runSuite`, `planGrid`, `writeReport`, the experiment names and scales.
 */
export { runSuite, planGrid, type SuiteOptions, type SuiteResult, type PlanLine } from './suite/scheduler.js';
export { writeReport } from './suite/suite-report.js';
export { parseExperimentNames, EXPERIMENT_NAMES, EXTRA_EXPERIMENT_NAMES, type ExperimentName } from './suite/declarations/index.js';
export { SCALES, parseScale, ATTACK_COLUMNS, type ScaleName, type AttackColumn } from './suite/scales.js';
export { SCALE_SETTINGS } from './suite/scales.js';
export { runDryRun, type DryRunSubset } from './suite/dry-run.js';
export { formatMeasuredPlan, parseStepsPerSecond, planFromMeasurements, readMeasurements, type Throughput } from './suite/measured-plan.js';
