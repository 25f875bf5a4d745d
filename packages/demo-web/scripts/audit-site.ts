/**
 * Builds the audit page into one folder: the page and its worker bundled by esbuild (tfjs, the
 * wasm / webgpu backends and the toolkit's attacks included, nothing from a CDN), the
 * tfjs-backend-wasm binaries from the npm package, and small bundles of test images made here from
 * the local datasets (Fashion-MNIST from Debian; the 20 exact CIFAR-10 test images when the shared
 * data folder has them). Optionally copies a classifier / pre-processor (tfjs model.json + shards)
 * under models/ so the page opens with them filled in. Used by `npm run audit:web`, the bench and the tests.
 */
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { CIFAR10_CLASSES, FASHION_MNIST_CLASSES, loadTestSplit, parseCifarRecords } from 'jatp';

const PACKAGE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SRC = path.join(PACKAGE_DIR, 'src', 'audit');
const REPO = path.resolve(PACKAGE_DIR, '..', '..');

/** Fashion-MNIST as Debian installs it, and the 20 exact CIFAR-10 test images (never committed). */
export const FASHION_MNIST_DIR = process.env['JATP_FASHION_MNIST_DIR'] ?? '/usr/share/datasets/fashion-mnist';
export const CIFAR_SAMPLES = process.env['JATP_CIFAR_SAMPLES'] ?? path.resolve(REPO, '..', 'shared', 'data', 'cifar-10-exact-samples', 'test_batch_first20.bin');

export interface AuditSiteOptions {
  readonly outDir: string;
  /** Test images bundled from Fashion-MNIST (the first ones of the test split). Default 200. */
  readonly fashionMnistCount?: number;
  /** tfjs model.json files to copy in (with their shards), pre-filled in the page's form. */
  readonly classifier?: string;
  readonly preprocessor?: string;
}

/** Resolves Node built-ins that toolkit modules import for their file paths (never reached in the worker) to a stub that throws if called. */
const nodeStub: esbuild.Plugin = {
  name: 'node-builtins-stub',
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (a) => ({ path: a.path, namespace: 'node-stub' }));
    b.onLoad({ filter: /.*/, namespace: 'node-stub' }, (a) => ({
      contents: `const fail = () => { throw new Error('${a.path} is not available in the browser'); };
const handler = { get: (_t, k) => (k === '__esModule' ? false : new Proxy(fail, handler)), apply: fail };
module.exports = new Proxy({}, handler);`,
      loader: 'js',
    }));
  },
};

export async function bundleAudit(outDir: string): Promise<void> {
  const common: esbuild.BuildOptions = { bundle: true, format: 'esm', platform: 'browser', target: 'es2020', minify: true, legalComments: 'none', logLevel: 'warning' };
  await esbuild.build({ ...common, entryPoints: [path.join(SRC, 'main.ts')], outfile: path.join(outDir, 'audit.js') });
  await esbuild.build({ ...common, entryPoints: [path.join(SRC, 'worker.ts')], outfile: path.join(outDir, 'audit-worker.js'), plugins: [nodeStub] });
  await fs.copyFile(path.join(SRC, 'audit.html'), path.join(outDir, 'audit.html'));
  await fs.copyFile(path.join(SRC, 'audit.css'), path.join(outDir, 'audit.css'));
  // The wasm binaries ship inside the npm package: served from here, never downloaded.
  const wasmDir = path.dirname(fileURLToPath(import.meta.resolve('@tensorflow/tfjs-backend-wasm')));
  for (const f of await fs.readdir(wasmDir)) if (f.endsWith('.wasm')) await fs.copyFile(path.join(wasmDir, f), path.join(outDir, f));
}

interface SampleFile {
  name: string;
  classNames: string[];
  imageShape: [number, number, number];
  labels: number[];
  pixelsBase64: string;
}

async function writeSamples(outDir: string, fashionCount: number): Promise<string[]> {
  const dir = path.join(outDir, 'samples');
  await fs.mkdir(dir, { recursive: true });
  const index: { name: string; file: string; count: number }[] = [];
  const notes: string[] = [];
  if (existsSync(FASHION_MNIST_DIR)) {
    const { test } = await loadTestSplit('fashion-mnist', { dataDir: FASHION_MNIST_DIR });
    const count = Math.min(fashionCount, test.count);
    const shape = test.imageShape ?? [28, 28, 1];
    const size = shape[0] * shape[1] * shape[2];
    const file: SampleFile = { name: 'fashion-mnist', classNames: [...FASHION_MNIST_CLASSES], imageShape: [...shape] as [number, number, number], labels: Array.from(test.labels.subarray(0, count)), pixelsBase64: Buffer.from(test.images.subarray(0, count * size)).toString('base64') };
    await fs.writeFile(path.join(dir, 'fashion-mnist.json'), JSON.stringify(file));
    index.push({ name: 'Fashion-MNIST', file: 'fashion-mnist.json', count });
  } else notes.push(`Fashion-MNIST not bundled: ${FASHION_MNIST_DIR} is missing`);
  if (existsSync(CIFAR_SAMPLES)) {
    const split = parseCifarRecords(new Uint8Array(readFileSync(CIFAR_SAMPLES)), CIFAR_SAMPLES);
    const file: SampleFile = { name: 'cifar-10', classNames: [...CIFAR10_CLASSES], imageShape: [32, 32, 3], labels: Array.from(split.labels), pixelsBase64: Buffer.from(split.images).toString('base64') };
    await fs.writeFile(path.join(dir, 'cifar-10.json'), JSON.stringify(file));
    index.push({ name: 'CIFAR-10', file: 'cifar-10.json', count: split.count });
  } else notes.push(`CIFAR-10 samples not bundled: ${CIFAR_SAMPLES} is missing`);
  await fs.writeFile(path.join(dir, 'index.json'), JSON.stringify(index));
  return notes;
}

/** Copies a tfjs model.json and the shards it names into `dest`; the message names the missing file. */
export async function copyTfjsModel(modelJson: string, dest: string, flag: string): Promise<void> {
  const file = existsSync(path.join(modelJson, 'model.json')) ? path.join(modelJson, 'model.json') : modelJson;
  if (!existsSync(file)) throw new Error(`${flag}: '${modelJson}' does not exist (expected a tfjs model.json or its folder)`);
  let json: { modelTopology?: unknown; weightsManifest?: { paths: string[] }[] };
  try {
    json = JSON.parse(readFileSync(file, 'utf8')) as typeof json;
  } catch (err) {
    throw new Error(`${flag}: '${file}' is not valid JSON (${(err as Error).message})`);
  }
  if (json.modelTopology === undefined) throw new Error(`${flag}: '${file}' is not a tfjs model.json (no "modelTopology")`);
  await fs.mkdir(dest, { recursive: true });
  await fs.copyFile(file, path.join(dest, 'model.json'));
  for (const p of (json.weightsManifest ?? []).flatMap((g) => g.paths)) {
    const src = path.join(path.dirname(file), p);
    if (!existsSync(src)) throw new Error(`${flag}: '${file}' names the weight file '${p}', which is missing`);
    await fs.copyFile(src, path.join(dest, p));
  }
}

/** Builds the site (next to `outDir`, swapped in at the end); returns notes on what was left out. */
export async function buildAuditSite(o: AuditSiteOptions): Promise<{ notes: string[]; query: string }> {
  const outDir = path.resolve(o.outDir);
  const staging = `${outDir}.building-${process.pid}`;
  await fs.rm(staging, { recursive: true, force: true });
  await fs.mkdir(staging, { recursive: true });
  try {
    const params = new URLSearchParams();
    if (o.classifier) {
      await copyTfjsModel(o.classifier, path.join(staging, 'models', 'classifier'), '--classifier');
      params.set('classifier', 'models/classifier/model.json');
    }
    if (o.preprocessor) {
      await copyTfjsModel(o.preprocessor, path.join(staging, 'models', 'preprocessor'), '--preprocessor');
      params.set('preprocessor', 'models/preprocessor/model.json');
    }
    const notes = await writeSamples(staging, o.fashionMnistCount ?? 200);
    await bundleAudit(staging);
    await fs.rm(outDir, { recursive: true, force: true });
    await fs.rename(staging, outDir);
    return { notes, query: params.size > 0 ? `?${params.toString()}` : '' };
  } catch (err) {
    await fs.rm(staging, { recursive: true, force: true });
    throw err;
  }
}
