/**
 * jatp as a library: everything the `jatp` command does, importable from `'jatp'` (the CLI in
 * cli/ is a thin client of these modules; importing the package never runs it). Each room below is
 * also a subpath of its own (`jatp/data`, `jatp/models`, `jatp/io`, `jatp/attacks`, `jatp/losses`,
 * `jatp/training`, `jatp/targets`, `jatp/defenses`, `jatp/evaluation`, `jatp/experiments`, `jatp/cli`).
 *
 * - Backend: `initBackend()` picks `torch` (our libtorch engine) when its addon loads, else `cpu`.
 * - Data: `loadDataset`, the readers, subsets and the input pipeline (`BatchIterator`, `toFloatBatch`),
 *   each dataset's threat model (`threatModelOf`, `PAPER_EPS`).
 * - Models: `buildNetwork` / `buildClassifier` (architectures), `fullModel(T, P)`, weight I/O
 *   (`saveNetwork`, `loadNetwork`, `resolveWeightsFile`, PyTorch import, tfjs export) and
 *   `jatpWeights`, a tfjs IOHandler.
 * - Files: `writeFileAtomic` / `writeFileAtomicSync` and the safetensors format.
 * - Attacks: one interface, `attack.run(model, x, y, seed | { seed, eot })` -> `{ xAdv, success }`,
 *   for PGD, APGD-CE/T, AutoAttack, FAB-T, Square, FWA, TI-BIM and the feature attack; `model` may be
 *   a function x -> logits, a FullModel, a network, a tf.LayersModel or a tf.GraphModel.
 * - Losses: the shared loss module (CE, CW, DLR, TRADES/MART terms, boosted CE, `detach`).
 * - Training: `runTraining(recipe, options)`, optimisers, data-parallel training.
 * - Targets: the target recipes (natural, standard AT, TRADES, MART, MMA), presets, `trainTarget`.
 * - Defenses: the JATP / JATP′ / APE-G / HGD / NRP recipes and losses, `trainDefense`, `loadPreprocessor`.
 * - Evaluation: `evaluate` (the harness behind `jatp eval`; resume, shards and `mergeStates`), `loadPipeline`,
 *   `loadTestSplit`, the gradient-masking `sanityCard`, saved examples (`examplesWriter`,
 *   `evaluateExamples`), the eval JSON (`readEvalJson`, `writeEvalJson`) and comparison tables
 *   (`markdownTable`, `barChartSvg`).
 * - Experiments: the paper's suite (`runSuite`, `planGrid`, `writeReport`).
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

// Each room's public names; also importable on their own as `jatp/<room>` (package.json "exports").
export * from './data/index.js';
export * from './models/index.js';
export * from './io/index.js';
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
} from './classifier-losses.js';
export * from './training/index.js';
export * from './targets/index.js';
export * from './defenses/index.js';
export * from './evaluation/index.js';
export * from './experiments/index.js';
