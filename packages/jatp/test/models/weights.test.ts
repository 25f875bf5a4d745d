import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { buildNetwork, listArchs } from '../../src/models/architectures.js';
import { decodeSafetensors, encodeSafetensors } from '../../src/io/safetensors.js';
import { loadNetwork, loadWeightsInto, saveNetwork, sidecarPath } from '../../src/models/weights.js';

await tf.setBackend('cpu');
const dir = mkdtempSync(join(tmpdir(), 'jatp-weights-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

const SMALL: Record<string, Record<string, unknown>> = {
  resnet18: { width: 4 },
  'small-cnn': { width: 4 },
  'jatp-purifier': { nf: 8, gc: 4, nb: 2 },
  nrp: { nf: 8, gc: 4, nb: 1 },
  'nrp-discriminator': { numFeat: 4 },
  hgd: { widthScale: 0.0625 },
};

/** Hand-built file: header bytes assembled here, independent of the encoder. */
function handFile(header: unknown, data: Uint8Array, lenOverride?: number): Uint8Array {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const out = new Uint8Array(8 + json.length + data.length);
  const len = lenOverride ?? json.length;
  for (let i = 0; i < 8; i++) out[i] = Math.floor(len / 2 ** (8 * i)) & 0xff;
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

test('decoder reads a hand-built file (LE length, JSON header, LE float32 data)', () => {
  const data = new Uint8Array(new Float32Array([1.5, -2, 3.25, 0]).buffer);
  const f = decodeSafetensors(handFile({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1, 2], data_offsets: [8, 16] }, __metadata__: { k: 'v' } }, data), 'hand');
  assert.deepEqual(Array.from(new Float32Array(f.tensors.get('a')!.bytes.buffer)), [1.5, -2]);
  assert.deepEqual(Array.from(new Float32Array(f.tensors.get('b')!.bytes.buffer)), [3.25, 0]);
  assert.deepEqual(f.tensors.get('b')!.shape, [1, 2]);
  assert.deepEqual(f.metadata, { k: 'v' });
});

test('encoder output has the documented byte layout', () => {
  const bytes = encodeSafetensors(new Map([['w', { shape: [3], data: new Float32Array([1, 2, 3]) }]]), { arch: 'x' });
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8'));
  assert.deepEqual(header.w, { dtype: 'F32', shape: [3], data_offsets: [0, 12] });
  assert.equal((8 + n) % 8, 0, 'data aligned to 8 bytes');
  assert.deepEqual(Array.from(new Float32Array(bytes.slice(8 + n).buffer)), [1, 2, 3]);
  assert.equal(bytes.length, 8 + n + 12);
});

test('decoder rejects headers that lie', () => {
  const data = new Uint8Array(16);
  const ok = { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } };
  assert.doesNotThrow(() => decodeSafetensors(handFile(ok, data), 'f'));
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ['length past end', handFile(ok, data, 10_000), /runs past the end/],
    ['truncated', new Uint8Array(5), /shorter than/],
    ['not json', handFile(ok, data, 3), /not valid JSON/],
    ['dtype', handFile({ ...ok, a: { dtype: 'Q8', shape: [2], data_offsets: [0, 8] } }, data), /unknown dtype/],
    ['size vs shape', handFile({ ...ok, a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, data), /expected 12/],
    ['negative dim', handFile({ ...ok, a: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, data), /non-negative/],
    ['past buffer', handFile({ a: ok.a, b: { dtype: 'F32', shape: [4], data_offsets: [8, 24] } }, data), /past the 16-byte/],
    ['overlap', handFile({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 12] }, b: ok.b }, data), /overlaps/],
    ['hole', handFile({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: ok.b }, data), /not indexed/],
    ['trailing bytes', handFile(ok, new Uint8Array(20)), /index only 16/],
    ['end before begin', handFile({ ...ok, a: { dtype: 'F32', shape: [0], data_offsets: [8, 0] } }, data), /end before begin/],
    ['metadata not strings', handFile({ ...ok, __metadata__: { a: 1 } }, data), /not a string/],
  ];
  for (const [label, bytes, re] of cases) {
    assert.throws(() => decodeSafetensors(bytes, 'lying.safetensors'), (e: Error) => re.test(e.message) && e.message.includes('lying.safetensors'), label);
  }
});

test('save -> load gives identical outputs for every architecture (with BN stats)', async () => {
  for (const arch of listArchs()) {
    const net = buildNetwork(arch, { ...(SMALL[arch] ?? {}), seed: 3 });
    const x = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 9) as tf.Tensor4D;
    // One training-mode pass moves BN running stats away from their init, so they must be saved too.
    tf.dispose(net.apply(x, true));
    const y = net.apply(x, false);
    const file = join(dir, `${arch}.safetensors`);
    await saveNetwork(net, file, { dataset: 'cifar10', recipe: { name: 'test' } });
    const side = JSON.parse(readFileSync(sidecarPath(file), 'utf8'));
    assert.equal(side.arch, arch);
    assert.equal(side.dataset, 'cifar10');
    const loaded = await loadNetwork(file);
    const y2 = loaded.apply(x, false);
    assert.deepEqual(Array.from(y2.dataSync()), Array.from(y.dataSync()), arch);
    // A fresh, differently seeded net really differs before loading (so the test can fail).
    const other = buildNetwork(arch, { ...(SMALL[arch] ?? {}), seed: 4 });
    if (other.countParams() > 0) {
      const y3 = other.apply(x, false);
      assert.notDeepEqual(Array.from(y3.dataSync()), Array.from(y.dataSync()), arch);
      await loadWeightsInto(other, file);
      const y4 = other.apply(x, false);
      assert.deepEqual(Array.from(y4.dataSync()), Array.from(y.dataSync()), arch);
      tf.dispose([y3, y4]);
    }
    tf.dispose([x, y, y2]);
    net.dispose();
    loaded.dispose();
    other.dispose();
  }
  assert.ok(!readdirSync(dir).some((f) => f.includes('.tmp-')), 'no temp files left behind');
});

test('loading rejects shape mismatches and missing/extra names, listing them', async () => {
  const a = buildNetwork('small-cnn', { width: 4 });
  const file = join(dir, 'a.safetensors');
  await saveNetwork(a, file);
  const wider = buildNetwork('small-cnn', { width: 6 });
  await assert.rejects(loadWeightsInto(wider, file), /wrong shape: block1\.0\.conv\.weight: file \[3, 3, 3, 4\] vs small-cnn \[3, 3, 3, 6\]/);
  // Drop one tensor, add one: both listed, nothing assigned.
  const parsed = decodeSafetensors(readFileSync(file), file);
  const edited = new Map<string, { shape: readonly number[]; data: Float32Array }>();
  for (const [n, t] of parsed.tensors) {
    if (n !== 'linear.bias') edited.set(n, { shape: t.shape, data: new Float32Array(t.bytes.buffer) });
  }
  edited.set('linear.extra', { shape: [1], data: new Float32Array([0]) });
  const bad = join(dir, 'bad.safetensors');
  writeFileSync(bad, encodeSafetensors(edited, { layout: 'tfjs' }));
  const b = buildNetwork('small-cnn', { width: 4 });
  const before = Array.from(b.namedWeights().get('linear.weight')!.dataSync());
  await assert.rejects(loadWeightsInto(b, bad), (e: Error) => /missing from the file: linear\.bias/.test(e.message) && /unexpected in the file: linear\.extra/.test(e.message) && e.message.includes(bad));
  assert.deepEqual(Array.from(b.namedWeights().get('linear.weight')!.dataSync()), before, 'nothing assigned on error');
  // Without a sidecar, the safetensors metadata rebuilds the architecture.
  rmSync(sidecarPath(file));
  const c = await loadNetwork(file);
  assert.equal(c.arch, 'small-cnn');
  assert.equal(c.options['width'], 4);
  assert.ok(existsSync(file));
  [a, wider, b, c].forEach((n) => n.dispose());
});
