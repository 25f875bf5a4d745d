import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { BatchIterator, toFloatBatch } from '../../src/data/pipeline.js';
import { cropFlip, resolveCropFlipMethod } from '../../src/data/augment.js';
import { permutation, streamKey, drawBelow } from '../../src/data/pipeline-rng.js';
import type { Split } from '../../src/data/types.js';
import { syntheticSplit } from './helpers.js';

await tf.setBackend('cpu');

/** Float64 reference of pad + crop + flip for one image, straight from the definition. */
function refCropFlip(img: Float64Array, h: number, w: number, c: number, offY: number, offX: number, flip: boolean, pad: number): Float64Array {
  const padded = new Float64Array((h + 2 * pad) * (w + 2 * pad) * c);
  const pw = w + 2 * pad;
  for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) for (let k = 0; k < c; k++) padded[((i + pad) * pw + j + pad) * c + k] = img[(i * w + j) * c + k]!;
  const out = new Float64Array(h * w * c);
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < w; j++) {
      const cj = flip ? w - 1 - j : j;
      for (let k = 0; k < c; k++) out[(i * w + j) * c + k] = padded[((i + offY) * pw + cj + offX) * c + k]!;
    }
  }
  return out;
}

function batchBytes(split: Split, idx: number, per: number): Float64Array {
  return Float64Array.from(split.images.subarray(idx * per, (idx + 1) * per), (b) => Math.fround(b / 255));
}

for (const method of ['matmul', 'crop-and-resize'] as const) {
for (const [h, w, c, pad] of [[6, 5, 3, 2], [4, 3, 2, 5], [32, 32, 3, 4], [28, 28, 1, 4]] as const) {
test(`cropFlip (${method}, ${h}x${w}x${c}, pad ${pad}) equals a float64 pad-crop-flip reference, bit for bit, for every offset and flip`, () => {
  const n = (2 * pad + 1) * (2 * pad + 1) * 2;
  const data = new Float32Array(n * h * w * c);
  for (let i = 0; i < data.length; i++) data[i] = ((i * 7919) % 1000) / 999;
  const offY = new Int32Array(n), offX = new Int32Array(n), flip = new Uint8Array(n);
  for (let b = 0; b < n; b++) {
    offY[b] = b % (2 * pad + 1);
    offX[b] = Math.floor(b / (2 * pad + 1)) % (2 * pad + 1);
    flip[b] = b >= n / 2 ? 1 : 0;
  }
  const before = tf.memory().numTensors;
  const x = tf.tensor4d(data, [n, h, w, c]);
  const out = cropFlip(x, { offY, offX, flip }, pad, method);
  const got = out.dataSync();
  tf.dispose([x, out]);
  assert.equal(tf.memory().numTensors, before);
  const per = h * w * c;
  for (let b = 0; b < n; b++) {
    const ref = refCropFlip(Float64Array.from(data.subarray(b * per, (b + 1) * per)), h, w, c, offY[b]!, offX[b]!, flip[b] === 1, pad);
    for (let i = 0; i < per; i++) assert.equal(got[b * per + i], Math.fround(ref[i]!), `image ${b} value ${i}`);
  }
});
}
}

test('cropFlip with the centre crop and flip equals tf.reverse along width', () => {
  const x = tf.randomUniform([3, 8, 8, 2], 0, 1, 'float32', 7) as tf.Tensor4D;
  const out = cropFlip(x, { offY: Int32Array.of(4, 4, 4), offX: Int32Array.of(4, 4, 4), flip: Uint8Array.of(1, 1, 1) }, 4);
  const ref = tf.reverse(x, 2);
  assert.deepEqual(Array.from(out.dataSync()), Array.from(ref.dataSync()));
  tf.dispose([x, out, ref]);
});

test('toFloatBatch gives byte/255 in NHWC and the labels at the given indices', () => {
  const split = syntheticSplit(10, [4, 3, 3], 5);
  const idx = [7, 2, 2, 9];
  const b = toFloatBatch(split, idx);
  assert.deepEqual(b.x.shape, [4, 4, 3, 3]);
  assert.equal(b.x.dtype, 'float32');
  assert.equal(b.y.dtype, 'int32');
  const x = b.x.dataSync();
  const per = 36;
  idx.forEach((src, i) => {
    const ref = batchBytes(split, src, per);
    for (let k = 0; k < per; k++) assert.equal(x[i * per + k], ref[k]);
  });
  assert.deepEqual(Array.from(b.y.dataSync()), idx.map((i) => split.labels[i]));
  tf.dispose([b.x, b.y]);
});

function collect(it: Iterable<{ x: tf.Tensor; y: tf.Tensor }>): { x: number[][]; y: number[][] } {
  const xs: number[][] = [];
  const ys: number[][] = [];
  for (const b of it) {
    xs.push(Array.from(b.x.dataSync()));
    ys.push(Array.from(b.y.dataSync()));
    tf.dispose([b.x, b.y]);
  }
  return { x: xs, y: ys };
}

test('an epoch visits every image exactly once, in a seeded order that changes with the epoch', () => {
  const split = syntheticSplit(23, [4, 4, 1], 3);
  const it = new BatchIterator(split, { batchSize: 5, seed: 11, epoch: 0 });
  assert.equal(it.numBatches, 5);
  const seen = Array.from({ length: it.numBatches }, (_, k) => Array.from(it.batchIndices(k))).flat();
  assert.deepEqual([...seen].sort((a, b) => a - b), Array.from({ length: 23 }, (_, i) => i));
  assert.notDeepEqual(seen, Array.from({ length: 23 }, (_, i) => i), 'shuffled');
  const again = new BatchIterator(split, { batchSize: 5, seed: 11, epoch: 0 });
  assert.deepEqual(Array.from(again.order), Array.from(it.order));
  const epoch1 = new BatchIterator(split, { batchSize: 5, seed: 11, epoch: 1 });
  assert.notDeepEqual(Array.from(epoch1.order), Array.from(it.order));
  const other = new BatchIterator(split, { batchSize: 5, seed: 12, epoch: 0 });
  assert.notDeepEqual(Array.from(other.order), Array.from(it.order));
  const plain = new BatchIterator(split, { batchSize: 5, shuffle: false });
  assert.deepEqual(Array.from(plain.order), Array.from({ length: 23 }, (_, i) => i));
  assert.equal(new BatchIterator(split, { batchSize: 5, dropLast: true }).numBatches, 4);
});

test('same seed and epoch give identical augmented batches; startBatch resumes the same sequence; methods agree', () => {
  const split = syntheticSplit(37, [6, 6, 3], 4);
  const opts = { batchSize: 8, seed: 5, epoch: 3, augment: 'crop-flip' as const, padding: 2 };
  assert.deepEqual(collect(new BatchIterator(split, { ...opts, cropMethod: 'matmul' })), collect(new BatchIterator(split, { ...opts, cropMethod: 'crop-and-resize' })));
  const before = tf.memory().numTensors;
  const full = collect(new BatchIterator(split, opts));
  const full2 = collect(new BatchIterator(split, opts));
  assert.deepEqual(full2, full);
  const resumed = collect(new BatchIterator(split, { ...opts, startBatch: 2 }));
  assert.equal(resumed.x.length, full.x.length - 2);
  assert.deepEqual(resumed, { x: full.x.slice(2), y: full.y.slice(2) });
  assert.equal(tf.memory().numTensors, before, 'no tensors leak');
});

test('augmented batch k equals the float64 reference built from its indices and parameters', () => {
  const split = syntheticSplit(20, [5, 5, 3], 4, 3);
  const it = new BatchIterator(split, { batchSize: 6, seed: 9, augment: 'crop-flip', padding: 4 });
  const k = 2;
  const b = it.batch(k);
  const idx = it.batchIndices(k);
  const p = it.augmentParams(k);
  const x = b.x.dataSync();
  const per = 75;
  for (let i = 0; i < idx.length; i++) {
    const ref = refCropFlip(batchBytes(split, idx[i]!, per), 5, 5, 3, p.offY[i]!, p.offX[i]!, p.flip[i] === 1, 4);
    for (let v = 0; v < per; v++) assert.equal(x[i * per + v], ref[v]);
  }
  tf.dispose([b.x, b.y]);
});

test('crop offsets cover 0..2*padding and flips are about half, over many images', () => {
  const split = syntheticSplit(4000, [2, 2, 1], 2);
  const it = new BatchIterator(split, { batchSize: 4000, seed: 1, augment: 'crop-flip' });
  const p = it.augmentParams(0);
  const hist = new Array<number>(9).fill(0);
  for (const o of p.offY) hist[o]!++;
  for (const o of p.offX) hist[o]!++;
  for (const count of hist) assert.ok(Math.abs(count - 8000 / 9) < 150, `offset histogram ${hist}`);
  const flips = p.flip.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(flips - 2000) < 150, `flips ${flips}`);
});

test('the async iterator yields exactly the sync iterator batches', async () => {
  const split = syntheticSplit(17, [4, 4, 3], 3);
  const opts = { batchSize: 4, seed: 2, augment: 'crop-flip' as const, startBatch: 1 };
  const sync = collect(new BatchIterator(split, opts));
  const xs: number[][] = [];
  const ys: number[][] = [];
  for await (const b of new BatchIterator(split, opts)) {
    xs.push(Array.from(b.x.dataSync()));
    ys.push(Array.from(b.y.dataSync()));
    tf.dispose([b.x, b.y]);
  }
  assert.deepEqual({ x: xs, y: ys }, sync);
});

test("'auto' crop-flip resolves to crop-and-resize on the cpu backend", () => {
  assert.equal(resolveCropFlipMethod('auto'), 'crop-and-resize');
  assert.equal(resolveCropFlipMethod('matmul'), 'matmul');
});

test('bad options are rejected with the option name', () => {
  const split = syntheticSplit(4, [2, 2, 1], 2);
  assert.throws(() => new BatchIterator(split, { batchSize: 0 }), /batchSize/);
  assert.throws(() => new BatchIterator(split, { batchSize: 2, startBatch: 3 }), /startBatch/);
  assert.throws(() => new BatchIterator(split, { batchSize: 2, augment: 'mixup' as never }), /augment/);
  assert.throws(() => new BatchIterator(split, { batchSize: 2, cropMethod: 'fast' as never }), /cropMethod/);
});

test('permutation is a bijection and drawBelow is close to uniform', () => {
  const key = streamKey(42, 1, 0);
  const perm = permutation(key, 1000);
  assert.deepEqual(Array.from(perm).sort((a, b) => a - b), Array.from({ length: 1000 }, (_, i) => i));
  const counts = new Array<number>(10).fill(0);
  for (let i = 0; i < 100000; i++) counts[drawBelow(key, i, 10)]!++;
  // chi-square with 9 dof: 99.9th percentile is 27.9
  const chi = counts.reduce((s, c) => s + (c - 10000) ** 2 / 10000, 0);
  assert.ok(chi < 27.9, `chi-square ${chi}`);
});
