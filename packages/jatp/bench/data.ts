/**
 * Input-pipeline benchmark (`npm run bench:data`): images/s of BatchIterator with the paper's
 * crop-flip augmentation (and without, for comparison), on the backend `initBackend` picks
 * (JATP_BACKEND=cpu|wasm|torch to force one), for a 32x32x3 split (the shared CIFAR-10 test batch
 * when present, else synthetic bytes) and for Fashion-MNIST 28x28x1 when installed.
 * Also reports the host-only share (index gather + uint8->float32) and load times.
 * Flags: --batch-size N (128), --batches N (40), --json.
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { provenance } from 'tfjs-backend-torch/provenance';
import { initBackend } from '../src/backend.js';
import { BatchIterator, loadDataset, parseCifarRecords, type Split, type Augment } from '../src/data/index.js';
import { readMaybeCompressed } from '../src/data/io.js';
import { positiveIntFlag } from './flags.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number): number => positiveIntFlag(args, name, fallback);
const batchSize = flag('--batch-size', 128);
const batches = flag('--batches', 40);
const json = args.includes('--json');
const log = (m: string): void => void process.stderr.write(`${m}\n`);

interface Row {
  dataset: string;
  shape: string;
  augment: Augment;
  batchSize: number;
  batches: number;
  imagesPerSecond: number;
  msPerBatch: number;
  hostMsPerBatch: number;
}

async function measure(name: string, split: Split, augment: Augment): Promise<Row> {
  const it = new BatchIterator(split, { batchSize, seed: 1, augment, dropLast: true });
  const n = Math.min(batches, it.numBatches);
  // Warm-up (kernel compilation / first allocations are not steady state).
  for (let k = 0; k < 2; k++) {
    const b = it.batch(k);
    await b.x.data();
    tf.dispose([b.x, b.y]);
  }
  let done = 0;
  const t0 = performance.now();
  for (const b of new BatchIterator(split, { batchSize, seed: 1, augment, dropLast: true })) {
    await b.x.data(); // force the device work to finish
    tf.dispose([b.x, b.y]);
    if (++done >= n) break;
  }
  const seconds = (performance.now() - t0) / 1000;
  // Host part alone: gather + uint8->float32 conversion (what prefetch overlaps).
  const per = split.images.length / split.count;
  const h0 = performance.now();
  for (let k = 0; k < n; k++) {
    const idx = it.batchIndices(k);
    const buf = new Float32Array(idx.length * per);
    for (let i = 0; i < idx.length; i++) buf.set(split.images.subarray(idx[i]! * per, (idx[i]! + 1) * per), i * per);
    if (augment === 'crop-flip') it.augmentParams(k);
  }
  const hostMs = (performance.now() - h0) / n;
  return {
    dataset: name,
    shape: split.imageShape?.join('x') ?? '?',
    augment,
    batchSize,
    batches: n,
    imagesPerSecond: Math.round((n * batchSize) / seconds),
    msPerBatch: +((seconds * 1000) / n).toFixed(2),
    hostMsPerBatch: +hostMs.toFixed(3),
  };
}

const backend = await initBackend();
log(`backend: ${backend}; batch size ${batchSize}, ${batches} batches per measurement`);
const rows: Row[] = [];
const loads: Record<string, number> = {};

// The shared data sits beside the repository's clone (../shared/data); JATP_SHARED_DATA overrides.
const sharedData = process.env.JATP_SHARED_DATA ?? fileURLToPath(new URL('../../../../shared/data', import.meta.url));
const cifarTest = join(sharedData, 'cifar-10-jpeg-batches-bin', 'test_batch.bin');
let cifar: Split;
let t = performance.now();
if (existsSync(cifarTest)) {
  cifar = { ...parseCifarRecords(readMaybeCompressed(cifarTest), cifarTest), imageShape: [32, 32, 3] };
  loads['cifar10 test_batch.bin (10,000 images)'] = Math.round(performance.now() - t);
} else {
  log(`${cifarTest} absent: using 10,000 synthetic 32x32x3 images`);
  const images = new Uint8Array(10000 * 3072);
  for (let i = 0; i < images.length; i++) images[i] = (i * 2654435761) >>> 24;
  cifar = { images, labels: Int32Array.from({ length: 10000 }, (_, i) => i % 10), count: 10000, imageShape: [32, 32, 3] };
}
for (const augment of ['crop-flip', 'none'] as const) {
  log(`measuring cifar10 ${augment} ...`);
  rows.push(await measure('cifar10', cifar, augment));
}
if (existsSync('/usr/share/datasets/fashion-mnist')) {
  t = performance.now();
  const fm = await loadDataset('fashion-mnist');
  loads['fashion-mnist (70,000 images)'] = Math.round(performance.now() - t);
  log('measuring fashion-mnist crop-flip ...');
  rows.push(await measure('fashion-mnist', fm.train, 'crop-flip'));
}

if (json) process.stdout.write(`${JSON.stringify({ provenance: provenance(), backend, rows, loadMs: loads }, null, 2)}\n`);
else {
  process.stdout.write(`backend ${backend}\n`);
  process.stdout.write(`${'dataset'.padEnd(14)}${'shape'.padEnd(9)}${'augment'.padEnd(11)}${'images/s'.padStart(10)}${'ms/batch'.padStart(10)}${'host ms'.padStart(9)}\n`);
  for (const r of rows) {
    process.stdout.write(`${r.dataset.padEnd(14)}${r.shape.padEnd(9)}${r.augment.padEnd(11)}${String(r.imagesPerSecond).padStart(10)}${String(r.msPerBatch).padStart(10)}${String(r.hostMsPerBatch).padStart(9)}\n`);
  }
  for (const [k, v] of Object.entries(loads)) process.stdout.write(`load ${k}: ${v} ms\n`);
}
