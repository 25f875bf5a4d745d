/**
 * Network weights on disk: `<name>.safetensors` (every persistent tensor of `namedWeights()`, in
 * tfjs layout: conv kernels HWIO, dense kernels [in, out]) plus a sidecar `<name>.json`
 *
 *   { "format": "jatp-weights/1", "arch": "resnet18", "options": {...}, "weights": "<name>.safetensors",
 *     "params": 11173962, "dataset"?: "cifar10", "recipe"?: {...}, ...any extra metadata }
 *
 * so `loadNetwork` can rebuild the architecture through the registry and fill it. arch and options
 * are also stored in the safetensors `__metadata__`, which makes a lone .safetensors file loadable.
 * Both files are written atomically. The sidecar records the SHA-256 of the .safetensors file
 * ("sha256"), verified on load, so flipped bytes are caught instead of silently evaluating a
 * damaged network; weights that are not finite (NaN, ±Inf) are refused too. Loading checks the
 * weight names and shapes against the architecture and reports the first mismatches of each kind
 * in one error.
 * PyTorch checkpoints (OIHW layout, PyTorch names) go through models/pytorch.ts instead.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as fsSync from 'node:fs';
import * as path from 'node:path';
import { buildNetwork } from './architectures.js';
import type { Network } from './types.js';
import { decodeSafetensors, encodeSafetensors, type SafeFile, type TensorToWrite } from '../io/safetensors.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { WEIGHTS_FORMAT, assignWeights, parseSidecar, resolveRunWeights, folderViewOf, sidecarFromMetadata, sidecarPath, type Sidecar, type WeightsMeta } from './weights-core.js';

// The format's Node-free half (sidecar type and checks, run-folder layout, filling a network) lives in
// weights-core.ts, shared with the browser-capable IOHandler; re-exported so this stays the entry point.
export { WEIGHTS_FORMAT, RUN_WEIGHT_CANDIDATES, resolveRunWeights, folderViewOf, assignWeights, parseSidecar, sidecarFromMetadata, sidecarPath, type FolderView, type Sidecar, type WeightsMeta } from './weights-core.js';

// The conversions named in the models API, re-exported so `models/weights.js` is the one entry point.
export { importPytorchResnet18, exportPytorch, exportPytorchResnet18, PYTORCH_TO_SAFETENSORS } from './pytorch.js';
export { exportTfjsModel, exportTfjsPipeline } from './tfjs-export.js';

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Reads a weights file's bytes, naming the file when it cannot. */
async function readWeightsBytes(weightsPath: string): Promise<Uint8Array> {
  try {
    return await fs.readFile(weightsPath);
  } catch (err) {
    throw new Error(`${weightsPath}: cannot read safetensors file (${(err as Error).message})`);
  }
}

/** Throws when the sidecar records a checksum that `bytes` do not have. */
export function verifyWeightsChecksum(bytes: Uint8Array, sidecar: Pick<Sidecar, 'sha256'>, weightsPath: string): void {
  if (sidecar.sha256 === undefined) return;
  const actual = sha256(bytes);
  if (actual !== sidecar.sha256) {
    throw new Error(
      `${weightsPath}: checksum mismatch: the file's SHA-256 is ${actual} but ${sidecarPath(weightsPath)} records ${sidecar.sha256} (the weights were damaged or replaced after they were saved)`,
    );
  }
}

/** Reads, checksums (against the sidecar) and decodes a weights file and its sidecar. */
export async function readVerifiedWeights(weightsPath: string): Promise<{ file: SafeFile; sidecar: Sidecar }> {
  const bytes = await readWeightsBytes(weightsPath);
  const file = decodeSafetensors(bytes, weightsPath);
  const sidecar = await readSidecar(weightsPath, file);
  verifyWeightsChecksum(bytes, sidecar, weightsPath);
  return { file, sidecar };
}

/** Every persistent tensor of `net`, read back to host memory, in `namedWeights()` order. */
export function weightsToHost(net: Network): Map<string, TensorToWrite> {
  const out = new Map<string, TensorToWrite>();
  for (const [name, v] of net.namedWeights()) out.set(name, { shape: v.shape, data: v.dataSync() as Float32Array });
  return out;
}

/** Saves a network as `<name>.safetensors` + `<name>.json` with the file's SHA-256 (both atomic). Example: `await saveNetwork(net, 'runs/x/model.safetensors', { dataset: 'cifar10' })`. */
export async function saveNetwork(net: Network, weightsPath: string, meta: WeightsMeta = {}): Promise<Sidecar> {
  const bytes = encodeSafetensors(weightsToHost(net), {
    format: WEIGHTS_FORMAT,
    layout: 'tfjs',
    arch: net.arch,
    options: JSON.stringify(net.options),
  });
  const sidecar: Sidecar = {
    ...meta,
    format: WEIGHTS_FORMAT,
    arch: net.arch,
    options: { ...net.options },
    weights: path.basename(weightsPath),
    params: net.countParams(),
    sha256: sha256(bytes),
  };
  await writeFileAtomic(weightsPath, bytes);
  await writeFileAtomic(sidecarPath(weightsPath), `${JSON.stringify(sidecar, null, 2)}\n`);
  return sidecar;
}

/** The sidecar beside `weightsPath`, checked to describe an architecture; undefined when there is none. */
async function readSidecarFile(weightsPath: string): Promise<Sidecar | undefined> {
  const jsonPath = sidecarPath(weightsPath);
  let text: string;
  try {
    text = await fs.readFile(jsonPath, 'utf8');
  } catch {
    return undefined;
  }
  return parseSidecar(text, jsonPath);
}

/** Reads the sidecar (or, without one, the safetensors metadata) describing the architecture. */
export async function readSidecar(weightsPath: string, file?: SafeFile): Promise<Sidecar> {
  const sidecar = await readSidecarFile(weightsPath);
  if (sidecar !== undefined) return sidecar;
  const f = file ?? decodeSafetensors(await readWeightsBytes(weightsPath), weightsPath);
  return sidecarFromMetadata(f, weightsPath, path.basename(weightsPath));
}

/** Rebuilds the network named in the sidecar and loads its weights. */
export async function loadNetwork(weightsPath: string): Promise<Network> {
  const { file, sidecar } = await readVerifiedWeights(weightsPath);
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
  const bytes = await readWeightsBytes(weightsPath);
  const file = decodeSafetensors(bytes, weightsPath);
  // The architecture is given, so a sidecar is optional here; when there is one, its checksum counts.
  const sidecar = await readSidecarFile(weightsPath);
  if (sidecar !== undefined) verifyWeightsChecksum(bytes, sidecar, weightsPath);
  assignWeights(net, file, weightsPath);
}

/**
 * The weights file a user means by `given` (a run folder, a weights file or its sidecar), on the
 * local file system; `flag` names the option in errors. Example: `resolveWeightsFile('runs/trades', '--model')`
 * is `runs/trades/last/model.safetensors`.
 */
export function resolveWeightsFile(given: string, flag: string): string {
  return resolveRunWeights(given, flag, folderViewOf(fsSync, path));
}
