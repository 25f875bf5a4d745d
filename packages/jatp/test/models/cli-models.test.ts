import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import { register, modelsImportPytorch, modelsExportTfjs, modelsExportPytorch } from '../../src/cli/models.js';
import { buildNetwork } from '../../src/models/architectures.js';
import { exportPytorch } from '../../src/models/pytorch.js';
import { fullModel } from '../../src/models/full-model.js';
import { loadNetwork, saveNetwork } from '../../src/models/weights.js';
import { fileModelHandler } from '../../src/evaluation/load-pipeline.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import type { Classifier } from '../../src/models/types.js';

process.env['JATP_BACKEND'] = 'cpu';
await tf.setBackend('cpu');
const dir = mkdtempSync(join(tmpdir(), 'jatp-cli-models-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const maxAbs = (a: tf.Tensor, b: tf.Tensor): number => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);

test('jatp models list --json prints every arch with the spec parameter counts', async () => {
  const program = new Command().exitOverride();
  register(program);
  let out = '';
  const write = process.stdout.write.bind(process.stdout);
  // Capture only our string output; the test runner's own (binary) reporting passes through.
  process.stdout.write = ((chunk: unknown, ...rest: unknown[]) =>
    typeof chunk === 'string' ? ((out += chunk), true) : (write as (...a: unknown[]) => boolean)(chunk, ...rest)) as typeof process.stdout.write;
  try {
    await program.parseAsync(['node', 'jatp', 'models', 'list', '--json']);
  } finally {
    process.stdout.write = write;
  }
  const rows = JSON.parse(out) as Array<{ arch: string; params: number }>;
  const byArch = Object.fromEntries(rows.map((r) => [r.arch, r.params]));
  assert.equal(byArch['resnet18'], 11_173_962);
  assert.equal(byArch['jatp-purifier'], 2_161_795);
  assert.equal(byArch['hgd'], 11_033_984);
  assert.equal(byArch['apeg-generator'], 269_059);
  assert.equal(byArch['apeg-discriminator'], 373_889);
  assert.equal(byArch['identity'], 0);
});

test('import-pytorch writes a run folder that loads with the same logits; export-pytorch inverts it', async () => {
  const src = buildNetwork('resnet18', { width: 4, seed: 9 }) as Classifier;
  const x = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  tf.dispose(src.apply(x, true));
  const ckpt = join(dir, 'torch.safetensors');
  await exportPytorch(src, ckpt);
  const run = join(dir, 'run');
  const r = await modelsImportPytorch({ in: ckpt, out: run, dataset: 'cifar10' });
  assert.equal(r.arch, 'resnet18');
  assert.ok(existsSync(join(run, 'model.json')));
  assert.equal(JSON.parse(readFileSync(join(run, 'model.json'), 'utf8')).dataset, 'cifar10');
  const loaded = await loadNetwork(join(run, 'model.safetensors'));
  const a = src.apply(x, false);
  const b = loaded.apply(x, false);
  assert.equal(maxAbs(a, b), 0);
  const back = join(dir, 'back.safetensors');
  await modelsExportPytorch({ model: run, out: back });
  const f1 = await readSafetensors(ckpt);
  const f2 = await readSafetensors(back);
  assert.deepEqual([...f2.tensors.keys()].sort(), [...f1.tensors.keys()].sort());
  for (const [k, t] of f1.tensors) assert.deepEqual(Array.from(f2.tensors.get(k)!.bytes), Array.from(t.bytes), k);
  await assert.rejects(modelsImportPytorch({ in: join(dir, 'nope.safetensors'), out: run }), /nope\.safetensors: cannot read/);
  tf.dispose([x, a, b]);
  src.dispose();
  loaded.dispose();
});

test('export-tfjs of a pre-processor + classifier run pair loads as one model giving F(x)', async () => {
  const T = buildNetwork('small-cnn', { width: 4, seed: 2 }) as Classifier;
  const P = buildNetwork('apeg-generator', { seed: 3 });
  await saveNetwork(T, join(dir, 'target', 'model.safetensors'));
  await saveNetwork(P, join(dir, 'apeg', 'model.safetensors'));
  const out = join(dir, 'web');
  const r = await modelsExportTfjs({ model: join(dir, 'target'), preprocessor: join(dir, 'apeg'), out, clamp: true });
  assert.deepEqual(r.networks, ['small-cnn', 'apeg-generator']);
  const m = await tfl.loadLayersModel(fileModelHandler(join(out, 'model.json')));
  const x = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
  const got = m.predict(x) as tf.Tensor;
  const want = fullModel(T, P).logits(x);
  assert.ok(maxAbs(got, want) < 1e-5);
  await assert.rejects(modelsExportTfjs({ out, clamp: true }), /give --model, --preprocessor/);
  await assert.rejects(modelsExportTfjs({ model: join(dir, 'missing'), out, clamp: true }), /--model: .*missing.* does not exist/);
  tf.dispose([x, got, want]);
  m.dispose();
  T.dispose();
  P.dispose();
});
