/**
 * `jatp/targets`: target classifiers — the recipes (natural, standard AT, TRADES, MART, MMA), the
 * `paper` and `cpu` presets, and `trainTarget`.
 */
export { NaturalRecipe } from './recipes/natural.js';
export { StandardRecipe } from './recipes/standard.js';
export { TradesRecipe, TRADES_DEFAULTS, type TradesOptions } from './recipes/trades.js';
export { MartRecipe, MART_DEFAULTS, type MartOptions } from './recipes/mart.js';
export { MmaRecipe } from './recipes/mma.js';
export { MmaOriginalRecipe, MMA_ORIGINAL_DEFAULTS, type MmaOriginalOptions } from './recipes/mma-original.js';
export { trainTarget, buildTargetRecipe, buildTargetNetwork, evaluateTarget, readTargetConfig, type TrainTargetOptions, type TrainTargetResult } from './train.js';
export { targetPreset, parseTargetRecipe, parseTargetPreset, TARGET_RECIPES, TARGET_PRESETS, type TargetConfig, type TargetRecipeName, type TargetPresetName } from './presets.js';
