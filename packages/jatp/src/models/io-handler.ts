/**
 * Our weights (safetensors + JSON sidecar, weights.ts) as a tfjs `IOHandler`, so the tfjs ecosystem
 * loads them directly:
 *
 *   const model = await tf.loadLayersModel(jatpWeights('runs/jatp'));                       // Node: run folder
 *   const model = await tf.loadLayersModel(jatpWeights('runs/jatp/last/model.safetensors')); // Node: file
 *   const model = await tf.loadLayersModel(jatpWeights('https://host/jatp/model.json'));     // Node or browser
 *
 * `source` may name the sidecar (`model.json`), the weights (`model.safetensors`; the sidecar beside it
 * is read when present, else the arch and options stored in the file's metadata), or, for a local
 * path in Node, a run folder (`last/`, then the folder, then `best/`, as the CLI looks). http(s) and
 * other URLs — and every source in a browser, relative ones resolved against the page — are read with
 * `fetch`; local paths in Node with `fs`, imported only when needed so this file bundles for a browser.
 *
 * The handler rebuilds the architecture named in the sidecar through the model registry, fills it from
 * the safetensors (names, shapes and dtypes checked, weights-core.ts), and hands tfjs the topology and
 * weights of that stock tfjs-layers model (after checking the sidecar's SHA-256 of the weights, where the
 * Web Crypto API exists), so the result is an ordinary `tf.LayersModel` (NHWC input in
 * [0, 1]; logits for a classifier, an image for a pre-processor). Its `userDefinedMetadata` carries
 * `{ arch, options }`.
 *
 * Options:
 * - fetch: the fetch function to use = globalThis.fetch
 */
import * as tf from '@tensorflow/tfjs-core';
import { LayersNetwork } from './layers-network.js';
import { buildNetwork } from './architectures.js';
import { decodeSafetensors } from '../io/safetensors-codec.js';
import { assignWeights, folderViewOf, parseSidecar, resolveRunWeights, sidecarFromMetadata, sidecarPath, type Sidecar } from './weights-core.js';

/** Options of `jatpWeights` (default: the global fetch). */
export interface JatpWeightsOptions {
  /** Fetch implementation for URLs (default: the global `fetch`). */
  readonly fetch?: typeof fetch;
}

/** The raw files behind a source: weights bytes and, when present, the sidecar text. */
interface Files {
  readonly weights: Uint8Array;
  readonly weightsSource: string;
  readonly weightsName: string;
  readonly sidecar?: { readonly text: string; readonly source: string };
}

const isUrl = (s: string): boolean => /^[a-z][a-z0-9+.-]*:\/\//i.test(s) || s.startsWith('blob:') || s.startsWith('data:');
const inNode = (): boolean => typeof process !== 'undefined' && typeof process.versions?.node === 'string';
const baseName = (s: string): string => s.split(/[\\/]/).pop()!.split(/[?#]/)[0]!;

/** A tfjs IOHandler that loads our safetensors + sidecar weights. See the file comment for `source`. */
export function jatpWeights(source: string, options: JatpWeightsOptions = {}): tf.io.IOHandler {
  if (typeof source !== 'string' || source.length === 0) throw new Error('jatpWeights: expected a path or URL of a sidecar .json, a .safetensors file or a run folder');
  return {
    load: async (): Promise<tf.io.ModelArtifacts> => {
      const files = isUrl(source) || !inNode() ? await viaFetch(source, options.fetch ?? globalThis.fetch) : await viaFs(source);
      return artifactsOf(files);
    },
  };
}

/** Hex SHA-256 with the Web Crypto API (browsers in secure contexts, Node >= 19); undefined where there is none. */
async function sha256Hex(bytes: Uint8Array): Promise<string | undefined> {
  const subtle = (globalThis as { crypto?: { subtle?: { digest(algorithm: string, data: Uint8Array): Promise<ArrayBuffer> } } }).crypto?.subtle;
  if (subtle === undefined) return undefined;
  return Array.from(new Uint8Array(await subtle.digest('SHA-256', bytes)), (b) => b.toString(16).padStart(2, '0')).join('');
}

async function artifactsOf(files: Files): Promise<tf.io.ModelArtifacts> {
  const file = decodeSafetensors(files.weights, files.weightsSource);
  const sidecar: Sidecar = files.sidecar ? parseSidecar(files.sidecar.text, files.sidecar.source) : sidecarFromMetadata(file, files.weightsSource, files.weightsName);
  // The sidecar's checksum (weights.ts) is checked here too, so damaged downloads are refused.
  const actual = sidecar.sha256 === undefined ? undefined : await sha256Hex(files.weights);
  if (actual !== undefined && actual !== sidecar.sha256) {
    throw new Error(`${files.weightsSource}: checksum mismatch: SHA-256 ${actual}, but ${files.sidecar!.source} records ${sidecar.sha256} (damaged or replaced weights)`);
  }
  const net = buildNetwork(sidecar.arch, sidecar.options);
  try {
    if (!(net instanceof LayersNetwork)) throw new Error(`${files.weightsSource}: architecture '${sidecar.arch}' is not a tfjs-layers model`);
    assignWeights(net, file, files.weightsSource);
    let captured: tf.io.ModelArtifacts | undefined;
    await net.model.save(
      tf.io.withSaveHandler(async (artifacts) => {
        captured = artifacts;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    return { ...captured!, userDefinedMetadata: { arch: sidecar.arch, options: sidecar.options } };
  } finally {
    net.dispose();
  }
}

async function viaFetch(source: string, fetchFn: typeof fetch | undefined): Promise<Files> {
  if (typeof fetchFn !== 'function') throw new Error(`jatpWeights: no fetch available to read '${source}'`);
  const base = (globalThis as { location?: { href?: string } }).location?.href;
  const resolve = (ref: string, against: string): string => new URL(ref, base === undefined ? against : new URL(against, base)).href;
  const get = async (url: string, optional: boolean): Promise<Response | undefined> => {
    let response: Response;
    try {
      response = await fetchFn(url);
    } catch (err) {
      throw new Error(`jatpWeights: cannot fetch '${url}' (${(err as Error).message})`);
    }
    if (response.ok) return response;
    if (optional && response.status === 404) return undefined;
    throw new Error(`jatpWeights: '${url}' answered HTTP ${response.status}`);
  };
  const absolute = base === undefined ? new URL(source).href : new URL(source, base).href;
  if (absolute.split(/[?#]/)[0]!.endsWith('.json')) {
    const text = await (await get(absolute, false))!.text();
    const sidecar = parseSidecar(text, absolute);
    if (typeof sidecar.weights !== 'string') throw new Error(`${absolute}: the sidecar names no "weights" file`);
    const weightsUrl = resolve(sidecar.weights, absolute);
    const weights = new Uint8Array(await (await get(weightsUrl, false))!.arrayBuffer());
    return { weights, weightsSource: weightsUrl, weightsName: baseName(weightsUrl), sidecar: { text, source: absolute } };
  }
  const sidecarUrl = resolve(baseName(sidecarPath(absolute.split(/[?#]/)[0]!)), absolute);
  const [weightsResponse, sidecarResponse] = await Promise.all([get(absolute, false), get(sidecarUrl, true)]);
  const weights = new Uint8Array(await weightsResponse!.arrayBuffer());
  const sidecar = sidecarResponse ? { text: await sidecarResponse.text(), source: sidecarUrl } : undefined;
  return { weights, weightsSource: absolute, weightsName: baseName(absolute), ...(sidecar ? { sidecar } : {}) };
}

async function viaFs(source: string): Promise<Files> {
  // Imported here, not at the top: this file must load in a browser, where these modules do not exist.
  // The names go through a variable so that bundlers (esbuild, webpack) leave the import to run time.
  const nodeModule = (name: string): Promise<unknown> => import(name);
  const fs = (await nodeModule('node:fs/promises')) as typeof import('node:fs/promises');
  const path = (await nodeModule('node:path')) as typeof import('node:path');
  const readText = async (file: string): Promise<string | undefined> => fs.readFile(file, 'utf8').catch(() => undefined);
  const stat = await fs.stat(source).catch(() => undefined);
  if (stat === undefined) throw new Error(`jatpWeights: '${source}' does not exist (expected a sidecar .json, a .safetensors file or a run folder)`);
  let weightsPath = source;
  if (stat.isDirectory()) {
    const fsSync = (await nodeModule('node:fs')) as typeof import('node:fs');
    weightsPath = resolveRunWeights(source, 'jatpWeights', folderViewOf(fsSync, path));
  } else if (source.endsWith('.json')) {
    const text = (await readText(source))!;
    const sidecar = parseSidecar(text, source);
    if (typeof sidecar.weights !== 'string') throw new Error(`${source}: the sidecar names no "weights" file`);
    const file = path.join(path.dirname(source), sidecar.weights);
    const weights = await fs.readFile(file).catch((err: Error) => {
      throw new Error(`${file}: cannot read the weights named by ${source} (${err.message})`);
    });
    return { weights, weightsSource: file, weightsName: path.basename(file), sidecar: { text, source } };
  }
  const weights = await fs.readFile(weightsPath).catch((err: Error) => {
    throw new Error(`${weightsPath}: cannot read safetensors file (${err.message})`);
  });
  const sidecarFile = sidecarPath(weightsPath);
  const text = await readText(sidecarFile);
  return { weights, weightsSource: weightsPath, weightsName: path.basename(weightsPath), ...(text === undefined ? {} : { sidecar: { text, source: sidecarFile } }) };
}
