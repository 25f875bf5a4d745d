/**
 * `jatp/cli`: each `jatp` subcommand as a function taking its flags as the command line gives them
 * (strings), for scripts and tests that want exactly what the command does. Importing it runs
 * nothing; `cli/main.ts` is the command itself.
 */
export { runEval, runMerge, type EvalFlags } from './eval.js';
export { runExperiment, runExperimentPlan, type ExperimentFlags } from './experiment.js';
export { runReport } from './report.js';
export { runTrainDefense, type TrainDefenseFlags } from './train-defense.js';
export { runTrainTarget, type TrainTargetFlags } from './train-target.js';
