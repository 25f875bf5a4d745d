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
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { buildNetwork } from './registry.js';
import type { Network } from './types.js';
import { asFloat32, decodeSafetensors, encodeSafetensors, writeFileAtomic, type SafeFile, type TensorToWrite } from './safetensors.js';

// The conversions named in the models API, re-exported so `models/weights.js` is the one entry point.
export { importPytorchResnet18, exportPytorch, exportPytorchResnet18, PYTORCH_TO_SAFETENSORS } from './pytorch.js';
export { exportTfjsModel, exportTfjsPipeline } from './tfjs-export.js';

export const WEIGHTS_FORMAT = 'jatp-weights/1';

export interface WeightsMeta {
  dataset?: string;
  recipe?: unknown;
  [key: string]: unknown;
}

export interface Sidecar extends WeightsMeta {
  format: string;
  arch: string;
  options: Record<string, unknown>;
  weights: string;
  params: number;
  /** SHA-256 (hex) of the weights file's bytes; absent in sidecars written before it was recorded. */
  sha256?: string;
}

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

/** `run/model.safetensors` -> `run/model.json`; any other name gets `.json` appended. */
export function sidecarPath(weightsPath: string): string {
  return weightsPath.endsWith('.safetensors') ? `${weightsPath.slice(0, -'.safetensors'.length)}.json` : `${weightsPath}.json`;
}

/** Every persistent tensor of `net`, read back to host memory, in `namedWeights()` order. */
export function weightsToHost(net: Network): Map<string, TensorToWrite> {
  const out = new Map<string, TensorToWrite>();
  for (const [name, v] of net.namedWeights()) out.set(name, { shape: v.shape, data: v.dataSync() as Float32Array });
  return out;
}

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
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`${jsonPath}: not valid JSON (${(err as Error).message})`);
  }
  const s = parsed as Partial<Sidecar>;
  if (typeof s !== 'object' || s === null || typeof s.arch !== 'string' || typeof s.options !== 'object' || s.options === null) {
    throw new Error(`${jsonPath}: expected an object with "arch" (string) and "options" (object)`);
  }
  return s as Sidecar;
}

/** Reads the sidecar (or, without one, the safetensors metadata) describing the architecture. */
export async function readSidecar(weightsPath: string, file?: SafeFile): Promise<Sidecar> {
  const sidecar = await readSidecarFile(weightsPath);
  if (sidecar !== undefined) return sidecar;
  const jsonPath = sidecarPath(weightsPath);
  const f = file ?? decodeSafetensors(await readWeightsBytes(weightsPath), weightsPath);
  const arch = f.metadata['arch'];
  if (arch === undefined) {
    throw new Error(`${weightsPath}: no sidecar ${jsonPath} and no "arch" in the safetensors metadata; cannot tell which architecture to build`);
  }
  let options: Record<string, unknown> = {};
  try {
    options = JSON.parse(f.metadata['options'] ?? '{}') as Record<string, unknown>;
  } catch {
    throw new Error(`${weightsPath}: metadata "options" is not valid JSON`);
  }
  return { format: f.metadata['format'] ?? WEIGHTS_FORMAT, arch, options, weights: path.basename(weightsPath), params: Number.NaN };
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

const FIRST = 8;

/**
 * Checks `file` against `net.namedWeights()` (names, shapes, dtype, finite values) and assigns
 * every variable. Nothing is assigned unless everything matches.
 */
export function assignWeights(net: Network, file: SafeFile, source: string): void {
  const expected = net.namedWeights();
  const missing = [...expected.keys()].filter((n) => !file.tensors.has(n));
  const extra = [...file.tensors.keys()].filter((n) => !expected.has(n));
  const badShape: string[] = [];
  const badDtype: string[] = [];
  for (const [name, v] of expected) {
    const t = file.tensors.get(name);
    if (t === undefined) continue;
    if (t.dtype !== 'F32') badDtype.push(`${name} (${t.dtype})`);
    if (t.shape.length !== v.shape.length || t.shape.some((d, i) => d !== v.shape[i])) {
      badShape.push(`${name}: file [${t.shape.join(', ')}] vs ${net.arch} [${v.shape.join(', ')}]`);
    }
  }
  const problems: string[] = [];
  const list = (label: string, xs: string[]): void => {
    if (xs.length > 0) problems.push(`${xs.length} ${label}: ${xs.slice(0, FIRST).join('; ')}${xs.length > FIRST ? '; ...' : ''}`);
  };
  list('missing from the file', missing);
  list('unexpected in the file', extra);
  list('with the wrong shape', badShape);
  list('not F32', badDtype);
  if (problems.length === 0) {
    // A NaN or Inf weight gives chance accuracy without any other symptom: refuse it.
    const nonFinite: string[] = [];
    for (const name of expected.keys()) {
      const values = asFloat32(file.tensors.get(name)!, name, source);
      let bad = 0;
      for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i]!)) bad++;
      if (bad > 0) nonFinite.push(`${name} (${bad} of ${values.length})`);
    }
    list('holding non-finite values (NaN or ±Inf; the weights are damaged)', nonFinite);
  }
  if (problems.length > 0) {
    const hint = file.metadata['layout'] !== 'tfjs' ? ' (PyTorch checkpoints load with `importPytorchResnet18` / `jatp models import-pytorch`)' : '';
    throw new Error(`${source}: weights do not match architecture '${net.arch}' ${JSON.stringify(net.options)}: ${problems.join(' | ')}${hint}`);
  }
  for (const [name, v] of expected) {
    const t = file.tensors.get(name)!;
    const value = tf.tensor(asFloat32(t, name, source), v.shape, 'float32');
    v.assign(value);
    value.dispose();
  }
}
