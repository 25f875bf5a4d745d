/**
 * Part (a) of bench/attacks.ts: the speed issue's small CNN (conv 1->16 k4 s2 p1, ReLU, conv 16->32
 * k4 s2 p1, ReLU, dense 1568->100, ReLU, dense 100->10; plain tf ops), attacked on the first
 * Fashion-MNIST test images (synthetic images when it is not installed).
 *
 * It is adversarially trained with the toolkit's TRADES recipe at the `cpu` target preset's
 * settings (the first 250 training images per class, batch 32, SGD lr 0.1 momentum 0.9 weight decay
 * 2e-4, x0.1 in the last epoch, beta 6, PGD-10 KL inner attack with eps 0.1 step 0.025), so that
 * about half of the points survive AutoAttack and its later stages get work, as on the robust
 * models users evaluate. The weights are cached (`--cache`, default .cache/bench-attacks at the
 * repository root) under a name that holds every setting, so reruns skip the training.
 * `trainSteps` = 0 selects the old, naturally trained variant (300 plain SGD steps).
 */
import fs from 'node:fs';
import path from 'node:path';

import * as tf from '@tensorflow/tfjs-core';

import { loadDataset } from '../src/data/load-dataset.js';
import { firstPerClass } from '../src/data/subset.js';
import type { Classifier, LogitsFn } from '../src/models/types.js';
import { readSafetensors, writeSafetensors, type TensorToWrite } from '../src/io/safetensors.js';
import { SgdMomentum } from '../src/training/optim.js';
import { targetPreset } from '../src/targets/presets.js';
import { TradesRecipe } from '../src/targets/recipes/trades.js';
import type { BenchModel } from './attacks-model.js';

const log = (m: string): void => void process.stderr.write(`${m}\n`);

interface Cnn { model: LogitsFn; weights: Record<string, tf.Variable> }

/** The speed issue's small CNN as a LogitsFn over [N, 28, 28, 1]. */
function smallCnn(seed: number): Cnn {
  const he = (shape: number[], fanIn: number, s: number) =>
    tf.tidy(() => tf.variable(tf.randomNormal(shape, 0, Math.sqrt(2 / fanIn), 'float32', s)));
  const zeros = (n: number) => tf.tidy(() => tf.variable(tf.zeros([n])));
  const w1 = he([4, 4, 1, 16], 16, seed), b1 = zeros(16);
  const w2 = he([4, 4, 16, 32], 256, seed + 1), b2 = zeros(32);
  const w3 = he([1568, 100], 1568, seed + 2), b3 = zeros(100);
  const w4 = he([100, 10], 100, seed + 3), b4 = zeros(10);
  // PyTorch's padding=1 with k4 s2 is tfjs's 'same' here (28 -> 14 -> 7: one pixel on each side).
  // Written with tfjs's fused ops, as a tfjs-layers model (Conv2D / Dense with bias and ReLU) runs:
  // one kernel per layer without a gradient; with one, tfjs splits them into conv, bias add, ReLU.
  const model: LogitsFn = (x) => tf.tidy(() => {
    const h1 = tf.fused.conv2d({ x, filter: w1 as tf.Tensor4D, strides: 2, pad: 'same', bias: b1, activation: 'relu' });
    const h2 = tf.fused.conv2d({ x: h1, filter: w2 as tf.Tensor4D, strides: 2, pad: 'same', bias: b2, activation: 'relu' });
    const h3 = tf.fused.matMul({ a: tf.reshape(h2, [x.shape[0], 1568]), b: w3 as tf.Tensor2D, bias: b3, activation: 'relu' });
    return tf.fused.matMul({ a: h3, b: w4 as tf.Tensor2D, bias: b4 }) as tf.Tensor2D;
  });
  return { model, weights: { w1, b1, w2, b2, w3, b3, w4, b4 } };
}

interface Data { x: tf.Tensor4D; y: tf.Tensor1D; trainX: tf.Tensor4D; trainY: tf.Tensor1D; source: string }

async function loadData(images: number, perClass: number | undefined): Promise<Data> {
  try {
    const ds = await loadDataset('fashion-mnist');
    const take = (split: typeof ds.test, n: number) => {
      const count = Math.min(n, split.count);
      const px = Float32Array.from(split.images.subarray(0, count * 784), (v) => v / 255);
      return { x: tf.tensor4d(px, [count, 28, 28, 1]), y: tf.tensor1d(split.labels.slice(0, count), 'int32') };
    };
    const test = take(ds.test, images);
    const trainSplit = perClass === undefined ? ds.train : firstPerClass(ds.train, perClass);
    const train = take(trainSplit, perClass === undefined ? 10000 : trainSplit.count);
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

function train(cnn: Cnn, d: Data, steps: number): void {
  const vars = Object.values(cnn.weights);
  const opt = new SgdMomentum(vars, { lr: 0.05, momentum: 0.9 });
  const n = d.trainX.shape[0];
  for (let step = 0; step < steps; step++) {
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

/** The CNN as a toolkit Classifier (no batch norm: training and inference modes are the same). */
function asClassifier(cnn: Cnn): Classifier {
  const vars = Object.values(cnn.weights);
  return {
    arch: 'bench-small-cnn',
    options: {},
    numClasses: 10,
    apply: (x) => cnn.model(x),
    applyWithFeatures: (x) => ({ output: cnn.model(x), features: {} }),
    featureNames: [],
    trainableVariables: () => vars,
    namedWeights: () => new Map(Object.entries(cnn.weights)),
    countParams: () => vars.reduce((a, v) => a + v.size, 0),
    dispose: () => tf.dispose(vars),
  };
}

/** TRADES at the cpu target preset's settings (see the file comment), read from the preset itself. */
const PRESET = targetPreset('trades', 'cpu', 'fashion-mnist');
export const TRADES_CPU = {
  perClass: PRESET.perClass ?? 250, batchSize: PRESET.batchSize, lr: PRESET.optimizer.lr, momentum: PRESET.optimizer.momentum,
  weightDecay: PRESET.optimizer.weightDecay, beta: PRESET.beta ?? 6, seed: 0,
} as const;

function trainTrades(cnn: Cnn, d: Data, epochs: number): void {
  const recipe = new TradesRecipe(asClassifier(cnn), { beta: TRADES_CPU.beta, attack: { ...PRESET.attack } });
  const opt = new SgdMomentum(Object.values(cnn.weights), { lr: TRADES_CPU.lr, momentum: TRADES_CPU.momentum, weightDecay: TRADES_CPU.weightDecay });
  const n = d.trainX.shape[0];
  const bs = TRADES_CPU.batchSize;
  // A fixed permutation per epoch (seeded), full batches only.
  let state = 12345;
  const rand = (): number => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32);
  let step = 0;
  for (let epoch = 0; epoch < epochs; epoch++) {
    opt.learningRate = epoch === epochs - 1 && epochs > 1 ? TRADES_CPU.lr * 0.1 : TRADES_CPU.lr;
    const order = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (let b = 0; b + bs <= n; b += bs) {
      const idx = tf.tensor1d(Int32Array.from(order.slice(b, b + bs)), 'int32');
      const x = tf.gather(d.trainX, idx) as tf.Tensor4D;
      const y = tf.gather(d.trainY, idx) as tf.Tensor1D;
      const m = recipe.step({ x, y }, { main: opt }, TRADES_CPU.seed + step++);
      tf.dispose([idx, x, y]);
      if (step % 50 === 0) log(`  TRADES epoch ${epoch + 1}/${epochs} step ${step}: loss ${m.loss!.toFixed(3)}`);
    }
  }
  opt.dispose();
}

async function loadCached(cnn: Cnn, file: string): Promise<boolean> {
  if (!fs.existsSync(file)) return false;
  const f = await readSafetensors(file);
  for (const [name, v] of Object.entries(cnn.weights)) {
    const t = f.tensors.get(name);
    if (!t || t.dtype !== 'F32' || t.shape.join() !== v.shape.join()) throw new Error(`${file}: weight '${name}' missing or of the wrong shape; delete the file to retrain`);
    v.assign(tf.tensor(new Float32Array(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength / 4), v.shape));
  }
  return true;
}

/** Host copy of a tensor for a safetensors file. */
export function hostTensor(t: tf.Tensor): TensorToWrite {
  const data = t.dtype === 'int32' ? Int32Array.from(t.dataSync() as Int32Array) : Float32Array.from(t.dataSync() as Float32Array);
  return { shape: t.shape, data };
}

/** The small CNN trained `trainSteps` SGD steps, with its first `images` test images. */
export async function smallCnnBench(opts: { images: number; eps: number; trainSteps: number; tradesEpochs: number; cache: string }): Promise<BenchModel> {
  const cnn = smallCnn(7);
  const robust = opts.tradesEpochs > 0;
  const data = await loadData(opts.images, robust ? TRADES_CPU.perClass : undefined);
  const t0 = performance.now();
  let how: string;
  if (robust) {
    const file = path.join(opts.cache, `small-cnn-trades-cpu-${data.source === 'Fashion-MNIST' ? 'fmnist' : 'synthetic'}-e${opts.tradesEpochs}-s${TRADES_CPU.seed}.safetensors`);
    if (await loadCached(cnn, file)) {
      how = `TRADES (cpu preset, ${opts.tradesEpochs} epochs), cached ${file}`;
    } else {
      log(`training the small CNN with TRADES (cpu preset, ${opts.tradesEpochs} epochs); cached in ${file}`);
      trainTrades(cnn, data, opts.tradesEpochs);
      fs.mkdirSync(opts.cache, { recursive: true });
      await writeSafetensors(file, new Map(Object.entries(cnn.weights).map(([k, v]) => [k, hostTensor(v)])));
      how = `TRADES (cpu preset, ${opts.tradesEpochs} epochs, trained in ${((performance.now() - t0) / 1000).toFixed(0)} s)`;
    }
  } else {
    train(cnn, data, opts.trainSteps);
    how = `${opts.trainSteps} plain SGD steps (${((performance.now() - t0) / 1000).toFixed(0)} s)`;
  }
  tf.dispose([data.trainX, data.trainY]);
  return {
    key: 'cnn',
    description: `small CNN (conv 1->16 k4 s2, conv 16->32 k4 s2, dense 1568->100->10) trained with ${how} on ${data.source}`,
    logits: cnn.model,
    x: data.x,
    y: data.y,
    data: data.source,
    eps: opts.eps,
    async writeForReference(dir: string): Promise<void> {
      // The CNN is plain tf ops, not a registry network: its weights keep the tfjs layouts
      // (HWIO kernels, [in, out] dense) and the Python side transposes them.
      await writeSafetensors(path.join(dir, 'cnn.safetensors'), new Map(Object.entries(cnn.weights).map(([k, v]) => [k, hostTensor(v)])));
      await writeSafetensors(path.join(dir, 'inputs.safetensors'), new Map([['x', hostTensor(data.x)], ['y', hostTensor(data.y)]]));
      fs.writeFileSync(path.join(dir, 'meta.json'), JSON.stringify({ model: 'cnn', eps: opts.eps }));
    },
    probe: () => ({ logits: tf.tidy(() => Float32Array.from(cnn.model(data.x).dataSync())) }),
    dispose: () => tf.dispose([data.x, data.y, ...Object.values(cnn.weights)]),
  };
}
