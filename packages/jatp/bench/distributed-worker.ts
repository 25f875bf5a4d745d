/**
 * One rank of `npm run bench:distributed` (bench/distributed.ts): natural training of the
 * toolkit's ResNet-18 through the shared loop on synthetic 32x32x3 data, data-parallel when
 * WORLD_SIZE > 1. Prints one JSON line: seconds per step after the warm-up steps, and this rank's
 * communication time and bytes per step.
 *
 *   node --import tsx distributed-worker.ts <width> <globalBatch> <steps> <warmup>
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs-core';
import { initProcessGroup } from 'tfjs-backend-torch';
import { initBackend } from '../src/backend.js';
import { buildClassifier } from '../src/models/architectures.js';
import { enableDataParallel } from '../src/training/data-parallel.js';
import { runTraining, silentProgress } from '../src/training/loop.js';
import { NaturalRecipe } from '../src/targets/recipes/natural.js';

const [width, batch, steps, warmup] = process.argv.slice(2, 6).map(Number) as [number, number, number, number];
if (!(width > 0 && batch > 0 && steps > warmup && warmup >= 1)) throw new Error('usage: distributed-worker.ts <width> <globalBatch> <steps> <warmup>');
if ((await initBackend('torch')) !== 'torch') throw new Error('bench:distributed needs the torch engine');
const world = Number(process.env.WORLD_SIZE ?? '1');
const group = world > 1 ? initProcessGroup() : undefined;
const end = group ? enableDataParallel(group) : () => {};
const net = buildClassifier('resnet18', { width, numClasses: 10, seed: 1 });
const count = batch * steps;
const images = new Uint8Array(count * 32 * 32 * 3);
for (let i = 0; i < images.length; i++) images[i] = (i * 2654435761) >>> 24;
const labels = Int32Array.from({ length: count }, (_, i) => i % 10);
const out = fs.mkdtempSync(path.join(os.tmpdir(), 'jatp-bench-ddp-'));
const stamps: number[] = [];
let commAtWarmup = { payloadBytes: 0, commSeconds: 0, collectives: 0 };
try {
  await runTraining(new NaturalRecipe(net), {
    outDir: path.join(out, 'run'),
    epochs: 1,
    batchSize: batch,
    seed: 1,
    optimizers: { main: { kind: 'sgd', lr: 0.01, momentum: 0.9 } },
    data: { train: { images, labels, count, imageShape: [32, 32, 3] } },
    logEverySteps: 1000,
    progress: silentProgress,
    handleSigint: false,
    afterStep: (step) => {
      stamps.push(performance.now());
      if (step === warmup && group) commAtWarmup = group.stats();
    },
  });
  const timed = stamps.length - warmup;
  const comm = group?.stats() ?? commAtWarmup;
  const result = {
    rank: group?.rank ?? 0,
    worldSize: world,
    secondsPerStep: (stamps.at(-1)! - stamps[warmup - 1]!) / 1000 / timed,
    commSecondsPerStep: (comm.commSeconds - commAtWarmup.commSeconds) / timed,
    payloadBytesPerStep: (comm.payloadBytes - commAtWarmup.payloadBytes) / timed,
    params: net.countParams(),
    threads: (await import('tfjs-backend-torch')).torchStatus().numThreads,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  end();
  net.dispose();
  fs.rmSync(out, { recursive: true, force: true });
  tf.disposeVariables();
}
