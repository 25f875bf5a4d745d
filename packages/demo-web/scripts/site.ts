/**
 * Builds the demo site into one folder: the page bundled by esbuild (tfjs and the toolkit's attack
 * code included, nothing from a CDN), the tfjs-backend-wasm binaries, the classifier and the
 * pre-processor(s) as tfjs `model.json` + weights, and `demo.json` with a few test images of the
 * models' dataset. Used by `npm run demo:web` (scripts/serve.ts) and by the browser tests.
 */
import { existsSync, promises as fs, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { loadDataset } from 'jatp/data';
import { loadNetwork, readSidecar, resolveWeightsFile, exportTfjsModel, archInfo, listArchs } from 'jatp/models';
import { initBackend } from 'jatp';
import type { DemoConfig, DemoImage, DemoModelInfo } from '../src/config.js';

export const PACKAGE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SRC = path.join(PACKAGE_DIR, 'src');

export interface SiteOptions {
  /** Folder to (re)create with the site. */
  readonly outDir: string;
  /** Run folder, .safetensors weights, or `jatp models export-tfjs` folder / model.json. */
  readonly classifier: string;
  readonly preprocessor?: string;
  /** The same for an obliviously-trained baseline pre-processor (APE-G, HGD), the page's third pipeline. */
  readonly baseline?: string;
  /** Dataset of the bundled images; default: the classifier's sidecar, else fashion-mnist. */
  readonly dataset?: string;
  readonly dataDir?: string;
  /** Test images bundled per class (the first ones of the test split). */
  readonly imagesPerClass?: number;
}

/** Bundles src/main.ts for the browser. `node:module` (reached only from Node code paths of gradients.ts) is stubbed. */
export async function bundlePage(outDir: string): Promise<void> {
  await esbuild.build({
    entryPoints: [path.join(SRC, 'main.ts')],
    outfile: path.join(outDir, 'app.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2020',
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    alias: { 'node:module': path.join(SRC, 'shims', 'node-module.ts') },
    logLevel: 'warning',
  });
  await fs.copyFile(path.join(SRC, 'index.html'), path.join(outDir, 'index.html'));
  await fs.copyFile(path.join(SRC, 'style.css'), path.join(outDir, 'style.css'));
  const wasmDir = path.join(path.dirname(fileURLToPath(import.meta.resolve('@tensorflow/tfjs-backend-wasm'))));
  for (const f of await fs.readdir(wasmDir)) if (f.endsWith('.wasm')) await fs.copyFile(path.join(wasmDir, f), path.join(outDir, f));
}

interface TfjsModelJson {
  modelTopology?: unknown;
  weightsManifest?: Array<{ paths: string[] }>;
  userDefinedMetadata?: { arch?: string; options?: Record<string, unknown>; classifier?: unknown; preprocessor?: unknown };
}

/** The tfjs model.json that `given` names or holds, or undefined when `given` is one of our run folders / weight files. */
function findTfjsModelJson(given: string): { file: string; json: TfjsModelJson } | undefined {
  const file = existsSync(given) && statSync(given).isDirectory() ? path.join(given, 'model.json') : given;
  if (!file.endsWith('.json') || !existsSync(file)) return undefined;
  let json: TfjsModelJson;
  try {
    json = JSON.parse(readFileSync(file, 'utf8')) as TfjsModelJson;
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${(err as Error).message})`);
  }
  return json.modelTopology === undefined ? undefined : { file, json };
}

/** Which model a path is given for; also the flag named in errors (`--baseline`). */
type Role = 'classifier' | 'preprocessor' | 'baseline';

/** The path as the page shows it: relative to the working folder when inside it, else absolute. */
function shownPath(given: string): string {
  const rel = path.relative(process.cwd(), path.resolve(given));
  return rel === '' || rel.startsWith('..') || path.isAbsolute(rel) ? path.resolve(given) : rel;
}

/** Puts `given` as tfjs model.json + weights into `dest`, exporting our safetensors weights when needed. */
async function prepareModel(given: string, role: Role, dest: string): Promise<{ info: Omit<DemoModelInfo, 'url'>; dataset?: string }> {
  const flag = `--${role}`;
  if (!existsSync(given)) throw new Error(`${flag}: '${given}' does not exist (expected a run folder, a .safetensors file or a tfjs model.json)`);
  await fs.mkdir(dest, { recursive: true });
  const tfjs = findTfjsModelJson(given);
  let arch: string;
  let options: Record<string, unknown>;
  let dataset: string | undefined;
  if (tfjs) {
    const meta = tfjs.json.userDefinedMetadata ?? {};
    if (meta.classifier !== undefined && meta.preprocessor !== undefined) {
      throw new Error(
        `${flag}: '${tfjs.file}' is a whole pipeline T(clip01(P(x))) exported as one model; the demo compares with and ` +
          'without the pre-processor, so export them separately (jatp models export-tfjs --model A --out a/; --model B --out b/)',
      );
    }
    arch = meta.arch ?? 'tfjs model';
    options = meta.options ?? {};
    await fs.copyFile(tfjs.file, path.join(dest, 'model.json'));
    for (const group of tfjs.json.weightsManifest ?? []) {
      for (const p of group.paths) {
        const src = path.join(path.dirname(tfjs.file), p);
        if (!existsSync(src)) throw new Error(`${flag}: '${tfjs.file}' names the weight file '${p}', which is missing`);
        await fs.copyFile(src, path.join(dest, p));
      }
    }
  } else {
    const weights = resolveWeightsFile(given, flag);
    const sidecar = await readSidecar(weights);
    await initBackend();
    const net = await loadNetwork(weights);
    try {
      await exportTfjsModel(net, dest);
    } finally {
      net.dispose();
    }
    arch = sidecar.arch;
    options = sidecar.options;
    dataset = typeof sidecar.dataset === 'string' ? sidecar.dataset : undefined;
  }
  if (listArchs().includes(arch)) {
    const kind = archInfo(arch).kind;
    const wanted = role === 'classifier' ? 'classifier' : 'preprocessor';
    if (kind !== wanted) throw new Error(`${flag}: '${given}' holds a ${arch} (a ${kind}), not a ${wanted}`);
  }
  return { info: { arch, options, source: shownPath(given) }, ...(dataset === undefined ? {} : { dataset }) };
}

/** The paper's L∞ budget for the dataset (spec §5): 0.1 on (Fashion-)MNIST, 8/255 on the colour sets. */
function defaultsFor(dataset: string): DemoConfig['defaults'] {
  const gray = dataset === 'mnist' || dataset === 'fashion-mnist';
  return { eps: gray ? 0.1 : Number((8 / 255).toFixed(4)), steps: 20, stepSize: 0.01 };
}

export async function buildSite(o: SiteOptions): Promise<DemoConfig> {
  const outDir = path.resolve(o.outDir);
  // Built next to the target and swapped in at the end, so a failed build leaves the old site intact.
  const staging = `${outDir}.building-${process.pid}`;
  await fs.rm(staging, { recursive: true, force: true });
  await fs.mkdir(staging, { recursive: true });
  try {
    const classifier = await prepareModel(o.classifier, 'classifier', path.join(staging, 'models', 'classifier'));
    const preprocessor = o.preprocessor === undefined ? undefined : await prepareModel(o.preprocessor, 'preprocessor', path.join(staging, 'models', 'preprocessor'));
    const baseline = o.baseline === undefined ? undefined : await prepareModel(o.baseline, 'baseline', path.join(staging, 'models', 'baseline'));
    const datasetName = o.dataset ?? classifier.dataset ?? 'fashion-mnist';
    const ds = await loadDataset(datasetName, o.dataDir === undefined ? {} : { dataDir: o.dataDir });
    const perClass = o.imagesPerClass ?? 1;
    const [h, w, c] = ds.imageShape;
    const size = h * w * c;
    const images: DemoImage[] = [];
    const taken = new Array<number>(ds.numClasses).fill(0);
    for (let i = 0; i < ds.test.count && images.length < perClass * ds.numClasses; i++) {
      const label = ds.test.labels[i]!;
      if (taken[label]! >= perClass) continue;
      taken[label]!++;
      images.push({ label, testIndex: i, pixelsBase64: Buffer.from(ds.test.images.subarray(i * size, (i + 1) * size)).toString('base64') });
    }
    images.sort((a, b) => a.label - b.label || a.testIndex - b.testIndex);
    const config: DemoConfig = {
      format: 'jatp-demo/1',
      dataset: ds.name,
      classNames: [...ds.classNames],
      imageShape: [h, w, c],
      images,
      classifier: { url: 'models/classifier/model.json', ...classifier.info },
      ...(preprocessor ? { preprocessor: { url: 'models/preprocessor/model.json', ...preprocessor.info } } : {}),
      ...(baseline ? { baseline: { url: 'models/baseline/model.json', ...baseline.info } } : {}),
      defaults: defaultsFor(ds.name),
    };
    await fs.writeFile(path.join(staging, 'demo.json'), JSON.stringify(config));
    await bundlePage(staging);
    await fs.rm(outDir, { recursive: true, force: true });
    await fs.rename(staging, outDir);
    return config;
  } catch (err) {
    await fs.rm(staging, { recursive: true, force: true });
    throw err;
  }
}
