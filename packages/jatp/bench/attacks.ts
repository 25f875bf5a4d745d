/**
 * Attack benchmark (`npm run bench:attacks`): kernel calls the engine dispatches per attack
 * iteration, and PGD-40, APGD-CE and AutoAttack standard against the reference AutoAttack in
 * PyTorch on the same weights and images, on the small CNN of the speed issue (conv 1->16 k4 s2 p1,
 * ReLU, conv 16->32 k4 s2 p1, ReLU, dense 1568->100, ReLU, dense 100->10; plain tf ops).
 * The CNN is trained here for --train-steps SGD steps on Fashion-MNIST (when installed; otherwise
 * on synthetic images, said so in the output), then attacked on the first --images test images.
 * Kernel counts also for the toolkit's ResNet-18 (tfjs-layers) on 32x32x3 inputs.
 *
 * The comparison (dev-only) needs AUTOATTACK_DIR (a checkout of the reference code, github
 * fra31/auto-attack; never vendored here) and a python3 with torch (Debian python3-torch);
 * without them it is skipped with a message. Sides are interleaved (tfjs, PyTorch, tfjs, ...,
 * after a short warm-up of each); each attack reports the median time ratio with its min-max over
 * --pairs pairs and both robust accuracies. PyTorch runs with the same thread count and
 * OMP_WAIT_POLICY=PASSIVE unless the environment sets a policy (as the engine does).
 * Not here yet: the CPU-preset full model (purifier + classifier) on CIFAR-shaped data.
 *
 * Flags: --images N (100)  --eps E (0.1)  --train-steps N (300)  --pairs N (2)  --skip-aa
 *        --python PATH (/usr/bin/python3)  --json
 * Backend: `initBackend` (torch when its addon loads; JATP_BACKEND to force one).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as tf from '@tensorflow/tfjs-core';
import { kernelStats } from 'tfjs-backend-torch';

import { initBackend } from '../src/backend.js';
import { apgdCe } from '../src/attacks/apgd.js';
import { autoAttack } from '../src/attacks/autoattack.js';
import { Pgd } from '../src/attacks/pgd.js';
import type { Attack } from '../src/attacks/types.js';
import { buildResnet18 } from '../src/models/resnet18.js';
import type { LogitsFn } from '../src/models/types.js';
import { loadDataset } from '../src/data/load.js';
import { SgdMomentum } from '../src/training/optim.js';

const args = process.argv.slice(2);
function num(name: string, def: number): number {
  const i = args.indexOf(name);
  if (i < 0) return def;
  const v = Number(args[i + 1]);
  if (!(v > 0) || !Number.isFinite(v)) throw new Error(`bench/attacks.ts: ${name} expects a positive number, got '${args[i + 1]}'`);
  return v;
}
const images = Math.floor(num('--images', 100));
const eps = num('--eps', 0.1);
const trainSteps = Math.floor(num('--train-steps', 300));
const pairs = Math.floor(num('--pairs', 2));
const pythonIdx = args.indexOf('--python');
const python = pythonIdx >= 0 ? args[pythonIdx + 1]! : '/usr/bin/python3';
const here = path.dirname(fileURLToPath(import.meta.url));
const log = (m: string): void => void process.stderr.write(`${m}\n`);

/** The speed issue's small CNN as a LogitsFn over [N, 28, 28, 1]. */
function smallCnn(seed: number): { model: LogitsFn; weights: Record<string, tf.Variable> } {
  const he = (shape: number[], fanIn: number, s: number) =>
    tf.tidy(() => tf.variable(tf.randomNormal(shape, 0, Math.sqrt(2 / fanIn), 'float32', s)));
  const zeros = (n: number) => tf.tidy(() => tf.variable(tf.zeros([n])));
  const w1 = he([4, 4, 1, 16], 16, seed), b1 = zeros(16);
  const w2 = he([4, 4, 16, 32], 256, seed + 1), b2 = zeros(32);
  const w3 = he([1568, 100], 1568, seed + 2), b3 = zeros(100);
  const w4 = he([100, 10], 100, seed + 3), b4 = zeros(10);
  // PyTorch's padding=1 with k4 s2: 28 -> 14 -> 7 (explicit symmetric padding, as the reference).
  const pad = [[0, 0], [1, 1], [1, 1], [0, 0]] as [number, number][];
  const model: LogitsFn = (x) => tf.tidy(() => {
    const h1 = tf.relu(tf.add(tf.conv2d(tf.pad(x, pad), w1 as tf.Tensor4D, 2, 'valid'), b1)) as tf.Tensor4D;
    const h2 = tf.relu(tf.add(tf.conv2d(tf.pad(h1, pad), w2 as tf.Tensor4D, 2, 'valid'), b2));
    const h3 = tf.relu(tf.add(tf.matMul(tf.reshape(h2, [x.shape[0], 1568]), w3), b3));
    return tf.add(tf.matMul(h3, w4), b4) as tf.Tensor2D;
  });
  return { model, weights: { w1, b1, w2, b2, w3, b3, w4, b4 } };
}

const dispatched = (): number => kernelStats.native + kernelStats.fallback;

/** Kernel calls of one extra iteration: calls(k + 1 iterations) - calls(k iterations). */
function callsPerIteration(make: (iters: number) => Attack, model: LogitsFn, x: tf.Tensor4D, y: tf.Tensor1D): number {
  const count = (iters: number): number => {
    const before = dispatched();
    const r = make(iters).run(model, x, y, 0);
    r.xAdv.dispose();
    return dispatched() - before;
  };
  count(2); // warm-up
  return count(4) - count(3);
}

function robustAccuracy(model: LogitsFn, xAdv: tf.Tensor4D, y: tf.Tensor1D): number {
  return tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(model(xAdv), 1), y), 'float32')).dataSync()[0]!);
}

interface Data { x: tf.Tensor4D; y: tf.Tensor1D; trainX: tf.Tensor4D; trainY: tf.Tensor1D; source: string }

async function loadData(): Promise<Data> {
  try {
    const ds = await loadDataset('fashion-mnist');
    const take = (split: typeof ds.test, n: number) => {
      const count = Math.min(n, split.count);
      const px = Float32Array.from(split.images.subarray(0, count * 784), (v) => v / 255);
      return { x: tf.tensor4d(px, [count, 28, 28, 1]), y: tf.tensor1d(split.labels.slice(0, count), 'int32') };
    };
    const test = take(ds.test, images);
    const train = take(ds.train, 10000);
    return { x: test.x, y: test.y, trainX: train.x, trainY: train.y, source: 'Fashion-MNIST' };
  } catch (err) {
    log(`Fashion-MNIST not available (${(err as Error).message.split('\n')[0]}): synthetic images, labels from a fixed random CNN`);
    const teacher = smallCnn(99);
    const all = tf.randomUniform([images + 2000, 28, 28, 1], 0, 1, 'float32', 5) as tf.Tensor4D;
    const labels = tf.tidy(() => tf.cast(tf.argMax(teacher.model(all), 1), 'int32')) as tf.Tensor1D;
    const split = (t: tf.Tensor, a: number, n: number) => tf.slice(t, [a], [n]);
    const d = { x: split(all, 0, images) as tf.Tensor4D, y: split(labels, 0, images) as tf.Tensor1D,
      trainX: split(all, images, 2000) as tf.Tensor4D, trainY: split(labels, images, 2000) as tf.Tensor1D, source: 'synthetic' };
    tf.dispose([all, labels, ...Object.values(teacher.weights)]);
    return d;
  }
}

function train(cnn: ReturnType<typeof smallCnn>, d: Data): void {
  const vars = Object.values(cnn.weights);
  const opt = new SgdMomentum(vars, { lr: 0.05, momentum: 0.9 });
  const n = d.trainX.shape[0];
  for (let step = 0; step < trainSteps; step++) {
    const start = (step * 128) % Math.max(1, n - 128);
    tf.tidy(() => {
      const xb = tf.slice(d.trainX, [start], [Math.min(128, n)]) as tf.Tensor4D;
      const yb = tf.oneHot(tf.slice(d.trainY, [start], [Math.min(128, n)]), 10);
      const { grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(yb, cnn.model(xb)) as tf.Scalar, vars);
      opt.applyGradients(grads);
    });
  }
  opt.dispose();
}

/** Writes weights, images and labels as raw float32 files + meta.json for attacks_reference.py. */
function writeForReference(dir: string, cnn: ReturnType<typeof smallCnn>, d: Data): void {
  const arrays: Record<string, number[]> = {};
  const put = (name: string, t: tf.Tensor) => {
    fs.writeFileSync(path.join(dir, `${name}.bin`), Buffer.from(Float32Array.from(t.dataSync() as ArrayLike<number>).buffer));
    arrays[name] = t.shape.slice();
  };
  for (const [k, v] of Object.entries(cnn.weights)) put(k, v);
  put('x', d.x);
  put('y', d.y);
  fs.writeFileSync(path.join(dir, 'meta.json'), JSON.stringify({ eps, arrays }));
}

function referenceUnavailable(): string | undefined {
  const dir = process.env.AUTOATTACK_DIR;
  if (!dir) return 'AUTOATTACK_DIR is not set (a checkout of github fra31/auto-attack)';
  if (!fs.existsSync(path.join(dir, 'autoattack', 'autoattack.py'))) return `AUTOATTACK_DIR=${dir} has no autoattack/autoattack.py`;
  const probe = spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0) return `${python} cannot import torch (apt-get install python3-torch)`;
  return undefined;
}

function runReference(dataDir: string, attack: string): { seconds: number; robustAccuracy: number } {
  const threads = String(tf.getBackend() === 'torch' ? os.cpus().length : 1);
  const env = { ...process.env, OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY ?? 'PASSIVE' };
  const r = spawnSync(python, [path.join(here, 'attacks_reference.py'), '--data', dataDir, '--attack', attack, '--threads', threads],
    { encoding: 'utf8', env, timeout: 3_600_000 });
  if (r.status !== 0) throw new Error(`attacks_reference.py ${attack} failed: ${(r.stderr || r.error?.message || '').slice(-800)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as { seconds: number; robustAccuracy: number };
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2; };

async function main(): Promise<void> {
  const backend = await initBackend();
  log(`backend ${backend}; eps ${eps}, ${images} test images`);
  const results: Record<string, unknown> = { date: new Date().toISOString(), backend, images, eps };

  const cnn = smallCnn(7);
  const data = await loadData();
  const t0 = performance.now();
  train(cnn, data);
  const { x, y } = data;
  const clean = robustAccuracy(cnn.model, x, y);
  log(`small CNN trained ${trainSteps} steps on ${data.source} (${((performance.now() - t0) / 1000).toFixed(0)} s); clean accuracy on ${x.shape[0]} test images ${(100 * clean).toFixed(1)}%`);
  results.data = data.source;
  results.cleanAccuracy = clean;

  const counts: Record<string, number> = {};
  counts.smallCnn_pgd_step = callsPerIteration((n) => new Pgd({ eps, steps: n, stepSize: eps / 4, randomStart: false }), cnn.model, x, y);
  counts.smallCnn_apgd_ce_iteration = callsPerIteration((n) => apgdCe({ eps, nIter: n }), cnn.model, x, y);
  const net = buildResnet18({ seed: 1 });
  const rx = tf.randomUniform([8, 32, 32, 3], 0, 1, 'float32', 12) as tf.Tensor4D;
  const rmodel: LogitsFn = (t) => net.apply(t, false) as tf.Tensor2D;
  const ry = tf.tidy(() => tf.cast(tf.argMax(rmodel(rx), 1), 'int32')) as tf.Tensor1D;
  counts.resnet18_pgd_step = callsPerIteration((n) => new Pgd({ eps: 8 / 255, steps: n, stepSize: 2 / 255, randomStart: false }), rmodel, rx, ry);
  counts.resnet18_apgd_ce_iteration = callsPerIteration((n) => apgdCe({ eps: 8 / 255, nIter: n }), rmodel, rx, ry);
  tf.dispose([rx, ry]);
  net.dispose();
  results.kernelCallsPerIteration = counts;
  for (const [k, v] of Object.entries(counts)) log(`  kernel calls per ${k.replace(/_/g, ' ')}: ${v}`);

  const noRef = referenceUnavailable();
  if (noRef !== undefined) log(`reference AutoAttack (PyTorch): skipped, ${noRef}`);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jatp-bench-attacks-'));
  try {
    writeForReference(dataDir, cnn, data);
    const ours = (name: string): { seconds: number; robustAccuracy: number } => {
      const attack: Attack = name === 'pgd40' ? new Pgd({ eps, steps: 40, stepSize: eps / 4 })
        : name === 'warmup' ? new Pgd({ eps, steps: 2, stepSize: eps / 4 })
          : name === 'apgd_ce' ? apgdCe({ eps }) : autoAttack({ eps });
      const start = performance.now();
      const r = attack.run(cnn.model, x, y, 0);
      const seconds = (performance.now() - start) / 1000;
      const acc = robustAccuracy(cnn.model, r.xAdv, y);
      r.xAdv.dispose();
      return { seconds, robustAccuracy: acc };
    };
    ours('warmup');
    if (noRef === undefined) runReference(dataDir, 'warmup');
    const names = ['pgd40', 'apgd_ce', ...(args.includes('--skip-aa') ? [] : ['autoattack_standard'])];
    const table: Record<string, unknown> = {};
    log(`\n${noRef === undefined ? `tfjs (${tf.getBackend()}) vs reference PyTorch, interleaved, ${pairs} pair(s)` : `tfjs (${tf.getBackend()}) only`}; eps ${eps}, ${x.shape[0]} images:`);
    for (const name of names) {
      const a: Array<{ seconds: number; robustAccuracy: number }> = [];
      const b: Array<{ seconds: number; robustAccuracy: number }> = [];
      for (let i = 0; i < (noRef === undefined ? pairs : 1); i++) {
        a.push(ours(name));
        if (noRef === undefined) b.push(runReference(dataDir, name));
      }
      const ratios = b.map((r, i) => a[i]!.seconds / r.seconds);
      table[name] = { tfjs: a, reference: b, ratio: ratios.length ? { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) } : undefined };
      const accs = (rs: typeof a) => [...new Set(rs.map((r) => (100 * r.robustAccuracy).toFixed(1)))].join('/');
      log(`  ${name}: tfjs ${median(a.map((r) => r.seconds)).toFixed(1)} s, robust ${accs(a)}%` +
        (b.length ? `; reference ${median(b.map((r) => r.seconds)).toFixed(1)} s, robust ${accs(b)}%; time ratio ${median(ratios).toFixed(2)}x (min-max ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)})` : ''));
    }
    results.attacks = table;
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  tf.dispose([data.x, data.y, data.trainX, data.trainY, ...Object.values(cnn.weights)]);
  if (args.includes('--json')) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
