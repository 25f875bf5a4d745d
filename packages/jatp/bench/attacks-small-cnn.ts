/**
 * Part (a) of bench/attacks.ts: the speed issue's small CNN (conv 1->16 k4 s2 p1, ReLU, conv 16->32
 * k4 s2 p1, ReLU, dense 1568->100, ReLU, dense 100->10; plain tf ops), trained for a few SGD steps
 * on Fashion-MNIST (synthetic images when it is not installed), attacked on the first test images.
 */
import fs from 'node:fs';
import path from 'node:path';

import * as tf from '@tensorflow/tfjs-core';

import { loadDataset } from '../src/data/load.js';
import type { LogitsFn } from '../src/models/types.js';
import { writeSafetensors, type TensorToWrite } from '../src/io/safetensors.js';
import { SgdMomentum } from '../src/training/optim.js';
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

interface Data { x: tf.Tensor4D; y: tf.Tensor1D; trainX: tf.Tensor4D; trainY: tf.Tensor1D; source: string }

async function loadData(images: number): Promise<Data> {
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

/** Host copy of a tensor for a safetensors file. */
export function hostTensor(t: tf.Tensor): TensorToWrite {
  const data = t.dtype === 'int32' ? Int32Array.from(t.dataSync() as Int32Array) : Float32Array.from(t.dataSync() as Float32Array);
  return { shape: t.shape, data };
}

/** The small CNN trained `trainSteps` SGD steps, with its first `images` test images. */
export async function smallCnnBench(opts: { images: number; eps: number; trainSteps: number }): Promise<BenchModel> {
  const cnn = smallCnn(7);
  const data = await loadData(opts.images);
  const t0 = performance.now();
  train(cnn, data, opts.trainSteps);
  tf.dispose([data.trainX, data.trainY]);
  const seconds = (performance.now() - t0) / 1000;
  return {
    key: 'cnn',
    description: `small CNN (conv 1->16 k4 s2, conv 16->32 k4 s2, dense 1568->100->10) trained ${opts.trainSteps} SGD steps on ${data.source} (${seconds.toFixed(0)} s)`,
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
