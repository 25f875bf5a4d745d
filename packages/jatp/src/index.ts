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
 * - Evaluation: `evaluate` (the harness behind `jatp eval`; resume, shards and `mergeStates`), `loadPipeline`,
 *   `loadTestSplit`, the gradient-masking `sanityCard`, saved examples (`examplesWriter`,
 *   `evaluateExamples`) and comparison tables (`markdownTable`, `barChartSvg`).
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
export { initBackend, withTrainingPrecision, PRECISIONS, type TrainingPrecision } from './backend.js';
export { ensureGradients } from './gradients.js';

// Data and the input pipeline --------------------------------------------------------------------------
export * from './data/index.js';

// Dataset download (what `jatp data download` does) ---------------------------------------------------
import * as download from './data/download.js';
export { downloadDataset, OfflineError, DownloadError } from './data/download.js';
/** Options of `downloadDataset`: target folder (default: the dataset's cache folder), mirror, idle timeout, progress lines. */
export type DownloadOptions = download.DownloadOptions;
/** One file `downloadDataset` fetched: where it lies, where it came from, its verified md5. */
export type DownloadedFile = download.DownloadedFile;

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
  resolveWeightsFile,
  resolveRunWeights,
  folderViewOf,
  type FolderView,
  importPytorchResnet18,
  exportPytorch,
  exportPytorchResnet18,
  exportTfjsModel,
  exportTfjsPipeline,
  PYTORCH_TO_SAFETENSORS,
  type Sidecar,
  type WeightsMeta,
} from './models/weights.js';
export { readSafetensors, writeSafetensors, encodeSafetensors, decodeSafetensors, type SafeFile, type SafeTensor, type SafeDtype, type TensorToWrite } from './io/safetensors.js';
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
export { NaturalRecipe } from './targets/recipes/natural.js';
export { StandardRecipe } from './targets/recipes/standard.js';
export { TradesRecipe, TRADES_DEFAULTS, type TradesOptions } from './targets/recipes/trades.js';
export { MartRecipe, MART_DEFAULTS, type MartOptions } from './targets/recipes/mart.js';
export { MmaRecipe } from './targets/recipes/mma.js';
export { MmaOriginalRecipe, MMA_ORIGINAL_DEFAULTS, type MmaOriginalOptions } from './targets/recipes/mma-original.js';
export { trainTarget, buildTargetRecipe, buildTargetNetwork, evaluateTarget, readTargetConfig, type TrainTargetOptions, type TrainTargetResult } from './targets/train.js';
export {
  targetPreset,
  parseTargetRecipe,
  parseTargetPreset,
  TARGET_RECIPES,
  TARGET_PRESETS,
  type TargetConfig,
  type TargetRecipeName,
  type TargetPresetName,
} from './targets/presets.js';
// Data-parallel training (training/distributed.ts belongs to the data-parallel work; documented aliases here).
import * as dataParallel from './training/distributed.js';
/**
 * Makes `runTraining` in this process data-parallel over an engine process group (one call per rank,
 * before training; DDP semantics: N ranks compute what one process does with the same global batch).
 * Returns a function that ends it. Example, under torchrun-style RANK/WORLD_SIZE variables:
 * `const stop = enableDataParallel(group, { syncBatchNorm: true }); await runTraining(recipe, opts); stop();`.
 * Defaults: per-rank batch-norm statistics, the engine's 25 MiB all-reduce buckets.
 */
export const enableDataParallel: typeof dataParallel.enableDataParallel = dataParallel.enableDataParallel;
/** The engine's process group as data-parallel training uses it: rank, world size, all-reduce, broadcast, barrier. */
export type DataParallelGroup = dataParallel.DataParallelGroup;
/** Options of `enableDataParallel`: `syncBatchNorm` (default false), `bucketBytes` (default the engine's 25 MiB). */
export type DataParallelOptions = dataParallel.DataParallelOptions;

// Defenses ---------------------------------------------------------------------------------------------
export * from './defenses/index.js';

// Evaluation -------------------------------------------------------------------------------------------
// experiments/evaluate.ts is being extended separately (resume, sanity); documented aliases here.
import * as evaluation from './evaluation/evaluate.js';
export { evaluate, type EvaluatedModel } from './evaluation/evaluate.js';
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
export { loadPipeline, loadTfjsClassifier, type LoadedPipeline, type PixelRange } from './evaluation/load-pipeline.js';
import * as loading from './evaluation/load-pipeline.js';
/** The input ranges a foreign tfjs classifier may expect (`loadPipeline`'s `pixelRange`): '0-1', '0-255', '-1-1'. */
export const PIXEL_RANGES: typeof loading.PIXEL_RANGES = loading.PIXEL_RANGES;
export { assembleReport, mergeStates, attackLabel, type AttackBatch } from './evaluation/evaluate.js';
export { readState, type EvaluationKey } from './evaluation/eval-state.js';
export { squareAfterGradientCheck, SQUARE_WARN_FRACTION, type SquareCheck, type StageResult } from './evaluation/square-check.js';
import * as evalState from './evaluation/eval-state.js';
/** The resumable record of an evaluation (`evaluate`'s `statePath`): its key, shard, and per-batch outcomes. */
export type EvaluationState = evalState.EvaluationState;
/** One shard of an evaluation (`evaluate`'s `shard` option): 0-based `index` of `count` contiguous blocks of batches. */
export type ShardSpec = evalState.ShardSpec;
import * as testSplit from './evaluation/test-split.js';
/**
 * Only the test split of a dataset (the training files are never read), e.g. for evaluation:
 * `const { test } = await loadTestSplit('fashion-mnist', { dataDir: 'data' })`. Default: the usual locations and the cache.
 */
export const loadTestSplit: typeof testSplit.loadTestSplit = testSplit.loadTestSplit;
/** What `loadTestSplit` returns: the dataset's canonical name, its test split and where it was read from. */
export type TestSplit = testSplit.TestSplit;
export { sanityCard, formatSanityCard, sweepSvg } from './evaluation/sanity.js';
import * as sanity from './evaluation/sanity.js';
/** What `sanityCard` returns: clean and per-attack robust accuracy at eps, the eps sweep, input-gradient statistics and the judged checks. */
export type SanityCard = sanity.SanityCard;
/** One judged line of a sanity card: id, title, pass / warn / skip, a sentence and the numbers behind it. */
export type SanityCheck = sanity.SanityCheck;
/** A check's verdict. */
export type CheckStatus = sanity.CheckStatus;
/** One point of the sanity card's eps sweep: the radius and the PGD robust accuracy there. */
export type SweepPoint = sanity.SweepPoint;
/** Options of `sanityCard`: eps, norm, batch size, seed; PGD steps (default 20), Square queries (default 500), sweep multiples, tolerance. */
export type SanityOptions = sanity.SanityOptions;
export { prepareExamplesDir, examplesWriter, evaluateExamples, writeContactSheets } from './evaluation/examples.js';
import * as examples from './evaluation/examples.js';
/** The `format` of a saved-examples folder's manifest.json. */
export const EXAMPLES_FORMAT: typeof examples.EXAMPLES_FORMAT = examples.EXAMPLES_FORMAT;
/** A saved-examples folder's manifest.json (`jatp eval --save-examples`): attacks, eps, norm, n, batch size, EOT draws, source. */
export type ExamplesManifest = examples.ExamplesManifest;
/** Reads and checks a saved-examples folder's manifest.json; `flag` (default '--from-examples') names the folder in errors. */
export const readManifest: typeof examples.readManifest = examples.readManifest;
export { markdownTable, barChartSvg } from './evaluation/comparison.js';
import * as comparison from './evaluation/comparison.js';
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
} from './evaluation/eval-json.js';
/** One row of a comparison table (`markdownTable`, `barChartSvg`): a label and its eval JSON. */
export type ReportRow = comparison.ReportRow;

// Experiments (the paper's tables and figures, docs/experiments.md) ---------------------------------------
import * as suiteScheduler from './experiments/suite/scheduler.js';
import * as suiteReport from './experiments/suite/report.js';
import * as suiteDeclarations from './experiments/suite/declarations/index.js';
import * as suiteScales from './experiments/suite/scales.js';
/** Runs the cells of the named experiments in `out` (shared cells once, finished ones skipped, interrupted ones continued). */
export const runSuite: typeof suiteScheduler.runSuite = suiteScheduler.runSuite;
/** The cells of the named experiments with their state (done / partial / pending) and a time estimate, without running anything. */
export const planGrid: typeof suiteScheduler.planGrid = suiteScheduler.planGrid;
/** Options of `runSuite`: folder, scale, dataset, seeds, test-image count, experiments, command line, logging. */
export type SuiteOptions = suiteScheduler.SuiteOptions;
/** What `runSuite` did: trainings and evaluations run, cells skipped, whether it was interrupted. */
export type SuiteResult = suiteScheduler.SuiteResult;
/** One line of `planGrid`: cell key, kind, state, estimated seconds and where the estimate comes from. */
export type PlanLine = suiteScheduler.PlanLine;
/** Rebuilds `<out>/report/` (index.html, report.md, results.csv, results.json) from an experiment folder; returns the index.html path. */
export const writeReport: typeof suiteReport.writeReport = suiteReport.writeReport;
/** 'table1' -> ['table1']; 'all' -> the paper's five experiments; a comma list works too; unknown names throw. */
export const parseExperimentNames: typeof suiteDeclarations.parseExperimentNames = suiteDeclarations.parseExperimentNames;
/** The paper's experiments: table1, table2, fig1, fig4a, fig4b (what `all` runs). */
export const EXPERIMENT_NAMES: typeof suiteDeclarations.EXPERIMENT_NAMES = suiteDeclarations.EXPERIMENT_NAMES;
/** Experiments outside `all`: the README's quick start. */
export const EXTRA_EXPERIMENT_NAMES: typeof suiteDeclarations.EXTRA_EXPERIMENT_NAMES = suiteDeclarations.EXTRA_EXPERIMENT_NAMES;
/** The name of an experiment declaration. */
export type ExperimentName = suiteDeclarations.ExperimentName;
/** The scales an experiment runs at: smoke (seconds), cpu (2 cores), evidence (cpu networks trained to a plateau, 1,000 images), paper (GPU). */
export const SCALES: typeof suiteScales.SCALES = suiteScales.SCALES;
/** One of `SCALES`. */
export type ScaleName = suiteScales.ScaleName;
/** Checks a --scale value; throws naming the flag and the valid scales. */
export const parseScale: typeof suiteScales.parseScale = suiteScales.parseScale;
/** An experiment's attack columns: the paper's, BPDA, and OBL (PGD made against the target alone). */
export const ATTACK_COLUMNS: typeof suiteScales.ATTACK_COLUMNS = suiteScales.ATTACK_COLUMNS;
/** One of `ATTACK_COLUMNS`. */
export type AttackColumn = suiteScales.AttackColumn;
