/**
 * Loading networks out of run folders: a target written by `jatp train-target` (for `--target`) and
 * a pre-processor written by `jatp train-defense` (`loadPreprocessor`, used by `jatp eval
 * --preprocessor`). A run folder keeps its network as `last/model.safetensors` + `last/model.json`
 * (models/weights.ts format); `best/` and the folder itself are also searched, and a weights file
 * may be named directly (models/weights.ts `resolveWeightsFile`, the one resolver).
 */
import type { Network, Preprocessor } from '../models/types.js';
import { loadNetwork, resolveWeightsFile } from '../models/weights.js';
import { archInfo } from '../models/architectures.js';

/** The network of a run folder (or weights file); `flag` names the option in errors. Example: `await loadRunNetwork('runs/trades', '--target')`. */
export async function loadRunNetwork(given: string, flag: string): Promise<Network> {
  return loadNetwork(resolveWeightsFile(given, flag));
}

/** The pre-processor of a `train-defense` run folder (or weights file), checked to be one. */
export async function loadPreprocessor(runDir: string): Promise<Preprocessor> {
  const net = await loadRunNetwork(runDir, '--preprocessor');
  const kind = archInfo(net.arch).kind;
  if (kind !== 'preprocessor') {
    net.dispose();
    throw new Error(`--preprocessor: '${runDir}' holds a ${kind} ('${net.arch}'), not a pre-processor`);
  }
  return net;
}
