/**
 * `jatp/models`: networks behind the `Network` / `Classifier` / `Preprocessor` interfaces, the
 * architecture registry, the full model F = T ∘ clip01 ∘ P, weights on disk (safetensors + sidecar),
 * the run folder → weights resolver, PyTorch import/export, tfjs export and the tfjs IOHandler.
 */
export type { Network, Classifier, Preprocessor, LogitsFn } from './types.js';
export { buildNetwork, buildClassifier, listArchs, listArchInfo, archInfo, isClassifier, type ArchInfo, type ArchKind } from './architectures.js';
export { fullModel, PREPROCESSED, type FullModel, type FullModelOptions, type TrainingMode } from './full-model.js';
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
} from './weights.js';
export { jatpWeights, type JatpWeightsOptions } from './io-handler.js';
