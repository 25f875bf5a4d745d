/**
 * The checkpoint safetensors writer/reader: byte layout checked by an independent parse of the
 * format (8-byte LE length, JSON header, raw LE data), round trip, and damage detection.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodeCheckpoint, encodeCheckpoint, readCheckpointFile, writeCheckpointFile, type HostTensor } from '../../src/io/checkpoint-file.js';

const tensors = new Map<string, HostTensor>([
  ['w', { dtype: 'F32', shape: [2, 3], data: Float32Array.from([1, -2, 3.5, 0, 1e-8, -7]) }],
  ['count', { dtype: 'I32', shape: [1], data: Int32Array.from([42]) }],
]);

test('encoded file follows the safetensors layout (checked by a hand parse)', () => {
  const buf = encodeCheckpoint(tensors, { note: 'hi' });
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  assert.equal((8 + n) % 8, 0, 'data start is 8-byte aligned');
  const w = header['w']!;
  assert.equal(w.dtype, 'F32');
  assert.deepEqual(w.shape, [2, 3]);
  const start = 8 + n + w.data_offsets[0];
  assert.equal(buf.readFloatLE(start + 8), 3.5);
  const c = header['count']!;
  assert.equal(buf.readInt32LE(8 + n + c.data_offsets[0]), 42);
  assert.equal((header['__metadata__'] as unknown as Record<string, string>)['note'], 'hi');
});

test('round trip through an atomic write keeps values and metadata', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jatp-ckio-'));
  const file = path.join(dir, 'a.safetensors');
  writeCheckpointFile(file, tensors, { k: 'v' });
  assert.deepEqual(fs.readdirSync(dir), ['a.safetensors'], 'no temp file left behind');
  const back = readCheckpointFile(file);
  assert.deepEqual([...back.tensors.get('w')!.data], [...tensors.get('w')!.data]);
  assert.deepEqual([...back.tensors.get('count')!.data], [42]);
  assert.deepEqual(back.metadata, { k: 'v' });
  fs.rmSync(dir, { recursive: true });
});

test('truncated or bit-flipped files are rejected with the file name and the defect', () => {
  const buf = encodeCheckpoint(tensors);
  assert.throws(() => decodeCheckpoint(buf.subarray(0, buf.length - 3), 'x.safetensors'), /x\.safetensors: invalid safetensors file: .*past the 25-byte data buffer/);
  const flipped = Buffer.from(buf);
  flipped[flipped.length - 2] ^= 0x10;
  assert.throws(() => decodeCheckpoint(flipped, 'y.safetensors'), /y\.safetensors: checksum mismatch/);
  assert.throws(() => decodeCheckpoint(Buffer.from('garbage!garbage!'), 'z'), /z: invalid safetensors file: header length/);
});
