/**
 * jatpWeights: `tf.loadLayersModel(jatpWeights(...))` on our safetensors + sidecar, from a file path,
 * a sidecar path, a run folder and over http from a local server on 127.0.0.1; the loaded
 * tf.LayersModel computes what the saved network computes. Also: the module's static imports reach
 * nothing from Node (it must bundle for a browser), and bad sources fail naming the source.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { buildNetwork } from '../../src/models/architectures.js';
import { saveNetwork } from '../../src/models/weights.js';
import { jatpWeights } from '../../src/models/io-handler.js';
import type { Network } from '../../src/models/types.js';

const dir = mkdtempSync(join(tmpdir(), 'jatp-io-handler-'));
let server: http.Server | undefined;
let baseUrl = '';
let classifier: Network | undefined;
let purifier: Network | undefined;

before(async () => {
  await tf.setBackend('cpu');
  classifier = buildNetwork('small-cnn', { inputSize: 8, inChannels: 1, numClasses: 4, width: 2, seed: 1 });
  purifier = buildNetwork('jatp-purifier', { nf: 4, gc: 2, nb: 1, inChannels: 1, inputSize: 8, seed: 2 });
  // Non-trivial batch-norm statistics, so that running stats must round-trip too.
  for (const [name, v] of classifier.namedWeights()) if (name.endsWith('running_mean')) v.assign(tf.fill(v.shape, 0.25));
  await saveNetwork(classifier, join(dir, 'cls', 'model.safetensors'), { dataset: 'test' });
  mkdirSync(join(dir, 'run', 'last'), { recursive: true });
  await saveNetwork(purifier, join(dir, 'run', 'last', 'model.safetensors'));
  // A static file server over the temp folder (404 for anything missing).
  server = http.createServer((req, res) => {
    const file = join(dir, decodeURIComponent(new URL(req.url!, 'http://x').pathname));
    try {
      const body = readFileSync(file);
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((ok) => server!.listen(0, '127.0.0.1', ok));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  await new Promise<void>((ok) => (server ? server.close(() => ok()) : ok()));
  classifier?.dispose();
  purifier?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

async function maxDiff(net: Network, loaded: tfl.LayersModel, shape: number[]): Promise<number> {
  const x = tf.randomUniform(shape, 0, 1, 'float32', 7) as tf.Tensor4D;
  const d = tf.tidy(() => tf.max(tf.abs(tf.sub(net.apply(x, false), loaded.predict(x) as tf.Tensor))).dataSync()[0]!);
  x.dispose();
  return d;
}

test('tf.loadLayersModel(jatpWeights(path)) from a .safetensors file, its sidecar, and a run folder', async () => {
  for (const source of [join(dir, 'cls', 'model.safetensors'), join(dir, 'cls', 'model.json')]) {
    const model = await tfl.loadLayersModel(jatpWeights(source));
    assert.equal(await maxDiff(classifier!, model, [3, 8, 8, 1]), 0, source);
    assert.deepEqual((model.getUserDefinedMetadata() as { arch: string }).arch, 'small-cnn');
    model.dispose();
  }
  const pre = await tfl.loadLayersModel(jatpWeights(join(dir, 'run')));
  assert.equal(await maxDiff(purifier!, pre, [2, 8, 8, 1]), 0, 'run folder');
  pre.dispose();
});

test('tf.loadLayersModel(jatpWeights(url)) over http from 127.0.0.1, by sidecar or by weights URL', async () => {
  for (const url of [`${baseUrl}/cls/model.json`, `${baseUrl}/cls/model.safetensors`, `${baseUrl}/run/last/model.json`]) {
    const model = await tfl.loadLayersModel(jatpWeights(url));
    const net = url.includes('/run/') ? purifier! : classifier!;
    assert.equal(await maxDiff(net, model, [2, 8, 8, 1]), 0, url);
    model.dispose();
  }
});

test('bad sources fail with a message naming them', async () => {
  await assert.rejects(tfl.loadLayersModel(jatpWeights(join(dir, 'nope'))), /nope' does not exist/);
  await assert.rejects(tfl.loadLayersModel(jatpWeights(join(dir))), /no network in run folder/);
  await assert.rejects(tfl.loadLayersModel(jatpWeights(`${baseUrl}/missing/model.json`)), /missing\/model\.json' answered HTTP 404/);
  assert.throws(() => jatpWeights(''), /expected a path or URL/);
  // One flipped byte in the weights: the sidecar's SHA-256 no longer matches, on disk and over http.
  mkdirSync(join(dir, 'damaged'), { recursive: true });
  const bytes = readFileSync(join(dir, 'cls', 'model.safetensors'));
  bytes[bytes.length - 3] ^= 0x40;
  writeFileSync(join(dir, 'damaged', 'model.safetensors'), bytes);
  copyFileSync(join(dir, 'cls', 'model.json'), join(dir, 'damaged', 'model.json'));
  await assert.rejects(tfl.loadLayersModel(jatpWeights(join(dir, 'damaged', 'model.json'))), /checksum mismatch/);
  await assert.rejects(tfl.loadLayersModel(jatpWeights(`${baseUrl}/damaged/model.safetensors`)), /checksum mismatch/);
});

test('io-handler.ts and everything it imports statically are free of Node modules (it must bundle for a browser)', () => {
  const srcRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');
  const seen = new Set<string>();
  const offenders: string[] = [];
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    // Static imports and re-exports only: `import x from '...'`, `export ... from '...'` (not `import('...')`).
    for (const m of text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+'([^']+)'/gm)) {
      const spec = m[1]!;
      if (spec.startsWith('node:') || ['fs', 'path', 'os', 'zlib', 'crypto', 'http', 'https'].includes(spec)) offenders.push(`${file}: ${spec}`);
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
    }
  };
  visit(join(srcRoot, 'models', 'io-handler.ts'));
  assert.ok(seen.size > 5, `walked ${seen.size} files`);
  assert.deepEqual(offenders, []);
});

test('io-handler.ts bundles for the browser with esbuild, with no Node shim', async (t) => {
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch {
    t.skip('esbuild is not installed (it comes with the demo-web workspace)');
    return;
  }
  const entry = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/models/io-handler.ts');
  const out = await esbuild.build({ entryPoints: [entry], bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent' });
  assert.equal(out.errors.length, 0);
  assert.ok(out.outputFiles[0]!.text.includes('jatpWeights'));
});
