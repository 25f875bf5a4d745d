/**
 * Issue 12 defects 5-7: damaged or colliding weight files are refused with the file (and tensor)
 * named, instead of evaluating a broken network or overwriting a run's sidecar.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import { buildNetwork } from '../../src/models/architectures.js';
import { loadNetwork, loadWeightsInto, saveNetwork, sidecarPath } from '../../src/models/weights.js';
import { encodeSafetensors, readSafetensors } from '../../src/io/safetensors.js';
import { modelsExportTfjs } from '../../src/cli/models.js';
import { fileModelHandler, loadPipeline } from '../../src/evaluation/load-pipeline.js';

process.env['JATP_BACKEND'] = 'cpu';
await tf.setBackend('cpu');
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'jatp-damaged-'));
process.on('exit', () => fs.rmSync(root, { recursive: true, force: true }));

async function savedNet(name: string): Promise<string> {
  const net = buildNetwork('small-cnn', { width: 2, inputSize: 8, inChannels: 1, numClasses: 3, seed: 1 });
  const file = path.join(root, name, 'last', 'model.safetensors');
  await saveNetwork(net, file, { dataset: 'tiny' });
  net.dispose();
  return file;
}

test('defect 6: the sidecar records the weights file SHA-256; flipped bytes are refused naming both files', async () => {
  const file = await savedNet('flipped');
  const sidecar = JSON.parse(fs.readFileSync(sidecarPath(file), 'utf8')) as { sha256?: string };
  assert.match(sidecar.sha256 ?? '', /^[0-9a-f]{64}$/);
  (await loadNetwork(file)).dispose();
  const bytes = fs.readFileSync(file);
  bytes[bytes.length - 3] ^= 0x01; // a low mantissa bit of the last weight: the header stays valid
  fs.writeFileSync(file, bytes);
  const message = new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: checksum mismatch: .*/model\\.json records`);
  await assert.rejects(loadNetwork(file), message);
  const net = buildNetwork('small-cnn', { width: 2, inputSize: 8, inChannels: 1, numClasses: 3, seed: 1 });
  await assert.rejects(loadWeightsInto(net, file), /checksum mismatch/);
  net.dispose();
});

test('defect 6: non-finite weights are refused, naming the tensors, even without a checksum', async () => {
  const file = await savedNet('nan');
  const { tensors, metadata } = await readSafetensors(file);
  const host = new Map([...tensors].map(([k, t]) => [k, { shape: t.shape, data: new Float32Array(t.bytes.buffer.slice(t.bytes.byteOffset, t.bytes.byteOffset + t.bytes.byteLength)) }]));
  const [first] = host.keys();
  host.get(first!)!.data[0] = Number.NaN;
  host.get(first!)!.data[1] = Number.POSITIVE_INFINITY;
  fs.writeFileSync(file, encodeSafetensors(host, metadata));
  // A sidecar from before checksums were recorded: the NaN check still applies.
  const side = JSON.parse(fs.readFileSync(sidecarPath(file), 'utf8')) as Record<string, unknown>;
  delete side['sha256'];
  fs.writeFileSync(sidecarPath(file), JSON.stringify(side));
  const before = tf.memory().numTensors;
  await assert.rejects(loadNetwork(file), new RegExp(`1 holding non-finite values .*: ${first!.replace(/[.]/g, '\\.')} \\(2 of \\d+\\)`));
  assert.equal(tf.memory().numTensors, before, 'the refused network is disposed');
});

test('defect 5: export-tfjs refuses to overwrite a run\'s weights sidecar; a second export over its own output is fine', async () => {
  const file = await savedNet('export');
  const lastDir = path.dirname(file);
  const sidecarBefore = fs.readFileSync(sidecarPath(file), 'utf8');
  await assert.rejects(
    modelsExportTfjs({ model: path.join(root, 'export'), out: lastDir, clamp: true }),
    /model\.json: exists and is the weights sidecar of a network .*another folder/,
  );
  assert.equal(fs.readFileSync(sidecarPath(file), 'utf8'), sidecarBefore, 'the sidecar is untouched');
  (await loadNetwork(file)).dispose();
  const web = path.join(root, 'web');
  await modelsExportTfjs({ model: file, out: web, clamp: true });
  await modelsExportTfjs({ model: file, out: web, clamp: true });
  const other = path.join(root, 'web2');
  fs.mkdirSync(other);
  fs.writeFileSync(path.join(other, 'model.json'), '{"hello": 1}');
  await assert.rejects(modelsExportTfjs({ model: file, out: other, clamp: true }), /exists and is a file this export did not make/);
});

test('defect 7: tfjs loading names the missing, short or oversized shard, the tensor and the expected size', async () => {
  const file = await savedNet('tfjs');
  const web = path.join(root, 'tfjs-web');
  const { bytes } = await modelsExportTfjs({ model: file, out: web, clamp: true });
  const modelJson = path.join(web, 'model.json');
  const shard = path.join(web, 'group1-shard1of1.bin');
  const good = fs.readFileSync(shard);
  (await tfl.loadLayersModel(fileModelHandler(modelJson))).dispose();
  fs.rmSync(shard);
  await assert.rejects(tfl.loadLayersModel(fileModelHandler(modelJson)), /model\.json: weight shard 'group1-shard1of1\.bin' is missing \(.*group1-shard1of1\.bin\)/);
  fs.writeFileSync(shard, good.subarray(0, good.length - 8));
  await assert.rejects(
    tfl.loadLayersModel(fileModelHandler(modelJson)),
    new RegExp(`weight shard 'group1-shard1of1\\.bin' is too short: tensor '[^']+' \\(float32 \\[[0-9, ]+\\], \\d+ bytes\\) needs bytes \\d+-${bytes} .* hold ${bytes - 8} bytes; expected ${bytes} bytes`),
  );
  fs.writeFileSync(shard, Buffer.concat([good, Buffer.alloc(4)]));
  await assert.rejects(tfl.loadLayersModel(fileModelHandler(modelJson)), new RegExp(`hold ${bytes + 4} bytes but the manifest's \\d+ tensors take ${bytes}; a shard is oversized`));
});

test('a classifier passed as --preprocessor is refused as not a pre-processor', async () => {
  const file = await savedNet('classifier');
  await assert.rejects(loadPipeline({ model: file, preprocessor: file }), /--preprocessor: .* holds a classifier \('small-cnn'\), not a pre-processor/);
});
