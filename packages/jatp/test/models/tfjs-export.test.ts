import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, normalize } from 'node:path';
import type { AddressInfo } from 'node:net';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import { buildNetwork } from '../../src/models/architectures.js';
import { fullModel } from '../../src/models/full-model.js';
import { exportTfjsModel, exportTfjsPipeline } from '../../src/models/tfjs-export.js';
import type { Classifier } from '../../src/models/types.js';

await tf.setBackend('cpu');
const dir = mkdtempSync(join(tmpdir(), 'jatp-tfjs-'));

// A static file server: the browser loader fetches model.json and the shard over HTTP, as in a page.
const server = createServer((req, res) => {
  const file = normalize(join(dir, decodeURIComponent(req.url ?? '/')));
  if (!file.startsWith(dir) || !existsSync(file)) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': file.endsWith('.json') ? 'application/json' : 'application/octet-stream' });
  res.end(readFileSync(file));
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
after(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

const maxAbs = (a: tf.Tensor, b: tf.Tensor): number => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);

test('exported purifier + classifier loads with tf.loadLayersModel over HTTP and gives F(x) = T(clip01(P(x)))', async () => {
  const before = tf.memory().numTensors;
  const T = buildNetwork('resnet18', { width: 4, seed: 1 }) as Classifier;
  const P = buildNetwork('jatp-purifier', { nf: 8, gc: 4, nb: 1, seed: 2 });
  const x = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
  tf.dispose(T.apply(x, true)); // non-trivial BN running stats
  const tensorsBeforeExport = tf.memory().numTensors;
  await exportTfjsPipeline(T, P, join(dir, 'pipeline'));
  assert.equal(tf.memory().numTensors, tensorsBeforeExport, 'export leaves no tensors behind');
  const loaded = await tfl.loadLayersModel(`${base}/pipeline/model.json`);
  const got = loaded.predict(x) as tf.Tensor;
  const F = fullModel(T, P);
  const want = F.logits(x);
  const unclamped = fullModel(T, P, { clamp: false }).logits(x);
  assert.ok(maxAbs(got, want) < 1e-5, `max diff ${maxAbs(got, want)}`);
  assert.ok(maxAbs(unclamped, want) > 1e-5, 'the clamp must matter for this input');
  tf.dispose([x, got, want, unclamped]);
  loaded.dispose();
  T.dispose();
  P.dispose();
  assert.equal(tf.memory().numTensors, before, 'exported networks still dispose completely');
});

test('every pre-processor and classifier exports and reloads with identical outputs', async () => {
  const cases: Array<[string, Record<string, unknown>]> = [
    ['hgd', { widthScale: 0.0625, inChannels: 1, inputSize: 28 }],
    ['apeg-generator', {}],
    ['nrp', { nf: 4, gc: 2, nb: 1 }],
    ['small-cnn', { width: 4 }],
    ['identity', {}],
  ];
  for (const [arch, opts] of cases) {
    const net = buildNetwork(arch, { ...opts, ...(arch === 'identity' ? {} : { seed: 5 }) });
    const size = (opts['inputSize'] as number | undefined) ?? 32;
    const ch = (opts['inChannels'] as number | undefined) ?? 3;
    const x = tf.randomUniform([2, size, size, ch], 0, 1, 'float32', 4) as tf.Tensor4D;
    await exportTfjsModel(net, join(dir, arch));
    const loaded = await tfl.loadLayersModel(`${base}/${arch}/model.json`);
    const got = loaded.predict(x) as tf.Tensor;
    const want = net.apply(x, false);
    assert.ok(maxAbs(got, want) < 1e-5, `${arch}: max diff ${maxAbs(got, want)}`);
    tf.dispose([x, got, want]);
    loaded.dispose();
    net.dispose();
  }
});
