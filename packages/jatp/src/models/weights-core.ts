/**
 * The parts of the weights format (weights.ts) that need no file system, shared by the Node loader
 * (weights.ts) and the tfjs IOHandler that also runs in a browser (io-handler.ts): the sidecar's
 * shape and checks, the run-folder layout, and filling a network from decoded safetensors.
 * Nothing here imports from Node.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Network } from './types.js';
import { asFloat32, type SafeFile } from '../io/safetensors-codec.js';

/** The `format` field of our sidecars and safetensors metadata. */
export const WEIGHTS_FORMAT = 'jatp-weights/1';

/** Free-form metadata stored in a sidecar (dataset, recipe, ...). */
export interface WeightsMeta {
  dataset?: string;
  recipe?: unknown;
  [key: string]: unknown;
}

/** The sidecar JSON beside a weights file: format, arch, options, weights file name, parameter count. */
export interface Sidecar extends WeightsMeta {
  format: string;
  arch: string;
  options: Record<string, unknown>;
  weights: string;
  params: number;
  /** SHA-256 (hex) of the weights file's bytes; absent in sidecars written before it was recorded. */
  sha256?: string;
}

/** Where a run folder (`jatp train-target` / `train-defense` output) keeps its network, most specific first. */
export const RUN_WEIGHT_CANDIDATES: readonly string[] = ['last/model.safetensors', 'model.safetensors', 'best/model.safetensors'];

/**
 * The file-system questions `resolveRunWeights` asks. Node's fs and path answer them (`folderViewOf`); this file itself imports no Node module so that it also loads in a browser.
 */
export interface FolderView {
  /** 'file', 'folder', or undefined when nothing is there. */
  kind(p: string): 'file' | 'folder' | undefined;
  /** The names in a folder. */
  list(folder: string): string[];
  readText(file: string): string;
  join(...parts: string[]): string;
  dirname(p: string): string;
  basename(p: string): string;
}

/**
 * A FolderView over Node's `fs` and `path` modules, passed in (not imported) so that this file stays
 * loadable in a browser: weights.ts passes its static imports, the IOHandler its lazy ones.
 */
export function folderViewOf(
  fs: Pick<typeof import('node:fs'), 'statSync' | 'readdirSync' | 'readFileSync'>,
  path: Pick<typeof import('node:path'), 'join' | 'dirname' | 'basename'>,
): FolderView {
  return {
    kind: (p) => {
      const stat = fs.statSync(p, { throwIfNoEntry: false });
      return stat === undefined ? undefined : stat.isFile() ? 'file' : 'folder';
    },
    list: (folder) => fs.readdirSync(folder),
    readText: (file) => fs.readFileSync(file, 'utf8'),
    join: (...parts) => path.join(...parts),
    dirname: (p) => path.dirname(p),
    basename: (p) => path.basename(p),
  };
}

/**
 * The one answer to "which weights file does the user mean": `given` itself when it is a weights file;
 * the weights its sidecar names when it is a sidecar `.json`; inside a run folder the first of
 * `RUN_WEIGHT_CANDIDATES`, else the only `*.safetensors` with a sidecar in `last/` or the folder.
 * `flag` names the option in errors.
 */
export function resolveRunWeights(given: string, flag: string, view: FolderView): string {
  const kind = view.kind(given);
  if (kind === undefined) throw new Error(`${flag}: '${given}' does not exist (expected a run folder, a .safetensors weights file or a tfjs model.json)`);
  if (kind === 'file') {
    if (!given.endsWith('.json')) return given;
    // Our sidecar names its weights file.
    const sidecar = JSON.parse(view.readText(given)) as { weights?: unknown };
    if (typeof sidecar.weights !== 'string') {
      throw new Error(`${flag}: '${given}' is neither a weights sidecar (no "weights" field) nor a tfjs model.json`);
    }
    return view.join(view.dirname(given), sidecar.weights);
  }
  for (const candidate of RUN_WEIGHT_CANDIDATES) {
    const p = view.join(given, candidate);
    if (view.kind(p) === undefined) continue;
    // A training run always writes last/; with only best/ left (last/ deleted or lost), taking best/
    // silently would evaluate another network than the user thinks. Naming best/ is one word away.
    if (candidate.startsWith('best/') && view.kind(view.join(given, 'config.json')) !== undefined) {
      throw new Error(`${flag}: run folder '${given}' has no last/ network (deleted?), only best/; pass '${view.join(given, 'best')}' to use the best checkpoint`);
    }
    return p;
  }
  for (const dir of [view.join(given, 'last'), given]) {
    if (view.kind(dir) === undefined) continue;
    const withSidecar = view
      .list(dir)
      .filter((f) => f.endsWith('.safetensors'))
      .map((f) => view.join(dir, f))
      .filter((f) => view.kind(sidecarPath(f)) !== undefined);
    if (withSidecar.length === 1) return withSidecar[0]!;
    if (withSidecar.length > 1) {
      throw new Error(`${flag}: '${dir}' holds several networks (${withSidecar.map((f) => view.basename(f)).join(', ')}); name the file`);
    }
  }
  throw new Error(`${flag}: no network in run folder '${given}' (looked for ${RUN_WEIGHT_CANDIDATES.join(', ')} and a *.safetensors with its .json sidecar)`);
}

/** Parses a sidecar's JSON text, checking the fields a loader needs; `source` names the file in errors. */
export function parseSidecar(text: string, source: string): Sidecar {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`${source}: not valid JSON (${(err as Error).message})`);
  }
  const s = parsed as Partial<Sidecar>;
  if (typeof s !== 'object' || s === null || typeof s.arch !== 'string' || typeof s.options !== 'object' || s.options === null) {
    throw new Error(`${source}: expected an object with "arch" (string) and "options" (object)`);
  }
  return s as Sidecar;
}

/**
 * The sidecar of a lone .safetensors file, from the arch and options our writer also stores in its
 * `__metadata__`. `weightsName` is the file's name as the sidecar would record it.
 */
export function sidecarFromMetadata(file: SafeFile, source: string, weightsName: string): Sidecar {
  const arch = file.metadata['arch'];
  if (arch === undefined) {
    throw new Error(`${source}: no sidecar ${sidecarPath(source)} and no "arch" in the safetensors metadata; cannot tell which architecture to build`);
  }
  let options: Record<string, unknown> = {};
  try {
    options = JSON.parse(file.metadata['options'] ?? '{}') as Record<string, unknown>;
  } catch {
    throw new Error(`${source}: metadata "options" is not valid JSON`);
  }
  return { format: file.metadata['format'] ?? WEIGHTS_FORMAT, arch, options, weights: weightsName, params: Number.NaN };
}

/** `run/model.safetensors` -> `run/model.json`; any other name gets `.json` appended. */
export function sidecarPath(weightsPath: string): string {
  return weightsPath.endsWith('.safetensors') ? `${weightsPath.slice(0, -'.safetensors'.length)}.json` : `${weightsPath}.json`;
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
