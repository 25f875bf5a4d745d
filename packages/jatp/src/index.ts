/**
 * jatp as a library: everything the `jatp` command does, importable from `'jatp'` (the CLI in
 * cli/ is a thin client of these modules; importing the package never runs it).
 *
 * - Backend: `initBackend()` picks `torch` (our libtorch engine) when its addon loads, else `cpu`.
 * - Data: `loadDataset`, the readers, subsets and the input pipeline (`BatchIterator`, `toFloatBatch`).
 * - Models: `buildNetwork` / `buildClassifier` (registry), `fullModel(T, P)`, weight I/O
 *   (`saveNetwork`, `loadNetwork`, PyTorch import, tfjs export) and `jatpWeights`, a tfjs IOHandler.
 * - Attacks: one interface, `attack.run(model, x, y, seed | { seed, eot })` -> `{ xAdv, success }`,
 *   for PGD, APGD-CE/T, AutoAttack, FAB-T, Square, FWA, TI-BIM and the feature attack; `model` may be
 *   a function x -> logits, a FullModel, a network, a tf.LayersModel or a tf.GraphModel.
 * - Losses: the shared loss module (CE, CW, DLR, TRADES/MART terms, boosted CE, `detach`).
 * - Training: `runTraining(recipe, options)` with the target recipes, `trainTarget`.
 * - Defenses: the JATP / JATP′ / APE-G / HGD / NRP recipes and losses, `trainDefense`, `loadPreprocessor`.
 * - Evaluation: `evaluate` (the harness behind `jatp eval`) and `loadPipeline`.
 *
 * Usage (Node, `cpu` backend, a model of your own):
 *
 *   import * as tf from '@tensorflow/tfjs';
 *   import { apgdCe, autoAttack } from 'jatp';
 *   const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [28, 28, 1] }), tf.layers.dense({ units: 10 })] });
 *   const x = tf.randomUniform([8, 28, 28, 1]) as tf.Tensor4D, y = tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7], 'int32');
 *   const { xAdv, success } = apgdCe({ eps: 0.1, nIter: 20 }).run(model, x, y);
 *   const report = autoAttack({ eps: 0.1 }).run(model, x, y); // report.robustAccuracy, report.stages
 *
 * Defaults follow the paper (ε = 8/255, PGD-40 step 0.01, AutoAttack standard); every factory takes
 * a partial options object and documents its defaults beside the options type.
 */

// Backend ---------------------------------------------------------------------------------------------
export { initBackend } from './backend.js';
export { ensureGradients } from './gradients.js';

// Data and the input pipeline --------------------------------------------------------------------------
export * from './data/index.js';

// Models, full model, weight I/O -----------------------------------------------------------------------
export type { Network, Classifier, Preprocessor, LogitsFn } from './models/types.js';
export { buildNetwork, buildClassifier, listArchs, listArchInfo, archInfo, isClassifier, type ArchInfo, type ArchKind } from './models/registry.js';
export { fullModel, PREPROCESSED, type FullModel, type FullModelOptions, type TrainingMode } from './models/full-model.js';
export {
  saveNetwork,
  loadNetwork,
  loadWeightsInto,
  readSidecar,
  weightsToHost,
  assignWeights,
  sidecarPath,
  WEIGHTS_FORMAT,
  RUN_WEIGHT_CANDIDATES,
  importPytorchResnet18,
  exportPytorch,
  exportPytorchResnet18,
  exportTfjsModel,
  exportTfjsPipeline,
  type Sidecar,
  type WeightsMeta,
} from './models/weights.js';
export { readSafetensors, writeSafetensors, encodeSafetensors, decodeSafetensors, type SafeFile, type SafeTensor, type SafeDtype, type TensorToWrite } from './models/safetensors.js';
export { jatpWeights, type JatpWeightsOptions } from './models/io-handler.js';

// Attacks (one interface) and the shared losses --------------------------------------------------------
export * from './attacks/index.js';
export {
  crossEntropy,
  klPerExample,
  tradesKl,
  boostedCrossEntropyPerExample,
  boostedCrossEntropy,
  martWeightedKl,
  mmaLiteLoss,
  accuracyOf,
  detach,
  BOOSTED_CE_OFFSET,
  BOOSTED_CE_TINY,
} from './losses.js';

// Training ---------------------------------------------------------------------------------------------
// training/loop.ts is being restructured separately; its exports get their TSDoc here, as documented
// aliases, so this file does not touch it.
import * as loop from './training/loop.js';
export { piecewiseSchedule, listCheckpoints, type LrSchedule } from './training/loop.js';
/**
 * The shared training loop: runs `recipe` for the configured epochs with the input pipeline, LR
 * schedule and optimizers, writing `config.json`, `metrics.jsonl`, checkpoints and `last/` (and
 * `best/`) weights into `opts.outDir`; resumes a killed run bit for bit. Example:
 * `await runTraining(new TradesRecipe(net, { beta: 6 }), { outDir: 'runs/t', data: { train: ds.train }, epochs: 3, batchSize: 128, seed: 0, optimizers: { main: { kind: 'sgd', lr: 0.1, momentum: 0.9 } } })`.
 * Defaults: constant LR, checkpoints at epoch ends, a metrics line every 50 steps, SIGINT handled, progress on stderr.
 */
export const runTraining: typeof loop.runTraining = loop.runTraining;
/** The `config.json` of a run folder (what `--resume` continues). */
export const readRunConfig: typeof loop.readRunConfig = loop.readRunConfig;
/** The newest readable checkpoint of a run folder, or undefined. */
export const latestCheckpoint: typeof loop.latestCheckpoint = loop.latestCheckpoint;
/** The training split and how the input pipeline treats it (augmentation default 'none', all examples). */
export type TrainingData = loop.TrainingData;
/** Options of `runTraining`: run folder, data, epochs, batch size, optimizers, schedule, checkpointing, resume. */
export type TrainingRunOptions = loop.TrainingRunOptions;
/** What `runTraining` returns: epochs and steps done, interruption, resume source, last metrics, best, time. */
export type RunSummary = loop.RunSummary;
/** The `config.json` a run folder keeps (recipe, loop settings, ...). */
export type RunConfigFile = loop.RunConfigFile;
export type { Batch, Recipe } from './training/types.js';
export { silentProgress, stderrProgress, type ProgressSink, type StepProgress } from './training/progress.js';
export { createOptimizer, SgdMomentum, Adam, OPTIMIZER_DEFAULTS, type OptimizerSpec } from './training/optim.js';
export { NaturalRecipe } from './training/recipes/natural.js';
export { StandardRecipe } from './training/recipes/standard.js';
export { TradesRecipe, TRADES_DEFAULTS, type TradesOptions } from './training/recipes/trades.js';
export { MartRecipe, MART_DEFAULTS, type MartOptions } from './training/recipes/mart.js';
export { MmaRecipe } from './training/recipes/mma.js';
export { MmaOriginalRecipe, MMA_ORIGINAL_DEFAULTS, type MmaOriginalOptions } from './training/recipes/mma-original.js';
export {
  trainTarget,
  targetPreset,
  buildTargetRecipe,
  buildTargetNetwork,
  evaluateTarget,
  readTargetConfig,
  TARGET_RECIPES,
  TARGET_PRESETS,
  type TargetConfig,
  type TargetRecipeName,
  type TargetPresetName,
  type TrainTargetOptions,
  type TrainTargetResult,
} from './training/targets.js';

// Defenses ---------------------------------------------------------------------------------------------
export * from './defenses/index.js';

// Evaluation -------------------------------------------------------------------------------------------
// experiments/evaluate.ts is being extended separately (resume, sanity); documented aliases here.
import * as evaluation from './experiments/evaluate.js';
export { evaluate, type EvaluatedModel } from './experiments/evaluate.js';
/** Defaults of `evaluate`: ε = 8/255, L∞, batches of 100, seed 0. */
export const EVALUATION_DEFAULTS: typeof evaluation.EVALUATION_DEFAULTS = evaluation.EVALUATION_DEFAULTS;
/** Options of `evaluate`: attack specs, ε, norm, batch size, seed, progress callback, attack builder. */
export type EvaluationOptions = evaluation.EvaluationOptions;
/** The report of `evaluate`: clean accuracy, per-attack robust accuracy and distances, per-example outcomes. */
export type EvaluationReport = evaluation.EvaluationReport;
/** One attack's row of an EvaluationReport. */
export type AttackEvaluation = evaluation.AttackEvaluation;
/** AutoAttack's accuracy after one stage, in an EvaluationReport. */
export type StageAccuracy = evaluation.StageAccuracy;
export { loadPipeline, loadTfjsClassifier, type LoadedPipeline, type PixelRange } from './experiments/load.js';
