/**
 * Network weights on disk: `<name>.safetensors` (every persistent tensor of `namedWeights()`, in
 * tfjs layout: conv kernels HWIO, dense kernels [in, out]) plus a sidecar `<name>.json`
 *
 *   { "format": "jatp-weights/1", "arch": "resnet18", "options": {...}, "weights": "<name>.safetensors",
 *     "params": 11173962, "dataset"?: "cifar10", "recipe"?: {...}, ...any extra metadata }
 *
 * so `loadNetwork` can rebuild the architecture through the registry and fill it. arch and options
 * are also stored in the safetensors `__metadata__`, which makes a lone .safetensors file loadable.
 * Both files are written atomically. Loading checks the weight names and shapes against the
 * architecture and reports the first mismatches of each kind in one error.
 * PyTorch checkpoints (OIHW layout, PyTorch names) go through models/pytorch.ts instead.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { buildNetwork } from './registry.js';
import type { Network } from './types.js';
import { readSafetensors, writeFileAtomic, writeSafetensors, type SafeFile, type TensorToWrite } from './safetensors.js';
import { WEIGHTS_FORMAT, assignWeights, parseSidecar, sidecarFromMetadata, sidecarPath, type Sidecar, type WeightsMeta } from './weights-core.js';

export { WEIGHTS_FORMAT, RUN_WEIGHT_CANDIDATES, assignWeights, parseSidecar, sidecarFromMetadata, sidecarPath, type Sidecar, type WeightsMeta } from './weights-core.js';

// The conversions named in the models API, re-exported so `models/weights.js` is the one entry point.
export { importPytorchResnet18, exportPytorch, exportPytorchResnet18, PYTORCH_TO_SAFETENSORS } from './pytorch.js';
export { exportTfjsModel, exportTfjsPipeline } from './tfjs-export.js';

/** Every persistent tensor of `net`, read back to host memory, in `namedWeights()` order. */
export function weightsToHost(net: Network): Map<string, TensorToWrite> {
  const out = new Map<string, TensorToWrite>();
  for (const [name, v] of net.namedWeights()) out.set(name, { shape: v.shape, data: v.dataSync() as Float32Array });
  return out;
}

/** Saves a network as `<name>.safetensors` + `<name>.json` (both atomic). Example: `await saveNetwork(net, 'runs/x/model.safetensors', { dataset: 'cifar10' })`. */
export async function saveNetwork(net: Network, weightsPath: string, meta: WeightsMeta = {}): Promise<Sidecar> {
  const sidecar: Sidecar = {
    ...meta,
    format: WEIGHTS_FORMAT,
    arch: net.arch,
    options: { ...net.options },
    weights: path.basename(weightsPath),
    params: net.countParams(),
  };
  await writeSafetensors(weightsPath, weightsToHost(net), {
    format: WEIGHTS_FORMAT,
    layout: 'tfjs',
    arch: net.arch,
    options: JSON.stringify(net.options),
  });
  await writeFileAtomic(sidecarPath(weightsPath), `${JSON.stringify(sidecar, null, 2)}\n`);
  return sidecar;
}

/** Reads the sidecar (or, without one, the safetensors metadata) describing the architecture. */
export async function readSidecar(weightsPath: string, file?: SafeFile): Promise<Sidecar> {
  const jsonPath = sidecarPath(weightsPath);
  let text: string | undefined;
  try {
    text = await fs.readFile(jsonPath, 'utf8');
  } catch {
    text = undefined;
  }
  if (text !== undefined) {
    return parseSidecar(text, jsonPath);
  }
  return sidecarFromMetadata(file ?? (await readSafetensors(weightsPath)), weightsPath, path.basename(weightsPath));
}

/** Rebuilds the network named in the sidecar and loads its weights. */
export async function loadNetwork(weightsPath: string): Promise<Network> {
  const file = await readSafetensors(weightsPath);
  const sidecar = await readSidecar(weightsPath, file);
  const net = buildNetwork(sidecar.arch, sidecar.options);
  try {
    assignWeights(net, file, weightsPath);
  } catch (err) {
    net.dispose();
    throw err;
  }
  return net;
}

/** Loads a safetensors file (our tfjs layout) into an existing network of the same architecture. */
export async function loadWeightsInto(net: Network, weightsPath: string): Promise<void> {
  assignWeights(net, await readSafetensors(weightsPath), weightsPath);
}
