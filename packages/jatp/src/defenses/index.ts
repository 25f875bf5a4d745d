/**
 * Pre-processing defenses: JATP (Algorithm 1) and JATP′, and the baselines APE-G, HGD and NRP, as
 * training recipes for the shared loop; their losses; the oblivious-example cache; presets; and
 * helpers to train one end to end and to load a trained pre-processor.
 */
export * from './purifier-losses.js';
export { JatpRecipe, JATP_DEFAULTS, resolveJatpOptions, type JatpOptions } from './jatp.js';
export { JatpJointRecipe } from './jatp-joint.js';
export { ApegRecipe, APEG_DEFAULTS, type ApegOptions } from './apeg.js';
export { HgdRecipe, HGD_DEFAULTS, type HgdOptions } from './hgd.js';
export { NrpRecipe, NRP_DEFAULTS, type NrpOptions } from './nrp.js';
export { fullAdversarialExamples, trainingPair, BASELINE_PGD_DEFAULTS, type ExampleMode, type BaselinePgdOptions } from './training-examples.js';
export { obliviousExamples, obliviousCacheKey, pairedSplit, OBLIVIOUS_PGD_DEFAULTS, SSP_DEFAULTS, type ObliviousAttackSpec } from './example-cache.js';
export { defenseDefaults, parseMethod, parsePreset, DEFENSE_METHODS, PRESET_NAMES, type DefenseConfig, type DefenseMethod, type PresetName } from './presets.js';
export { trainDefense, buildDefense, evaluateFullModel, defenseRunConfig, type TrainDefenseOptions, type TrainDefenseResult, type DefenseRunConfig } from './train.js';
export { loadPreprocessor, loadRunNetwork } from './load-networks.js';
