/**
 * ResNet-18 for CIFAR (He et al. 2016, the common CIFAR variant: 3x3 stem, no max-pool, stages of
 * 2 BasicBlocks with 64/128/256/512 channels, global average pool, dense 10) in plain tf ops, NHWC.
 * 11,173,962 trainable parameters (incl. BN scale/offset). Batch norm uses batch moments in
 * training mode (and updates running statistics with momentum 0.1, as PyTorch does) and the
 * running statistics in eval mode. Benchmark-only: the toolkit's models live in packages/jatp.
 */
import * as tf from '@tensorflow/tfjs-core';

import { batchNormTraining } from '../src/index.js';

interface BN { gamma: tf.Variable; beta: tf.Variable; mean: tf.Variable; variance: tf.Variable }
interface Block { conv1: tf.Variable; bn1: BN; conv2: tf.Variable; bn2: BN; stride: number; short?: { conv: tf.Variable; bn: BN } }

export interface ResNet18 {
  trainable: tf.Variable[];
  /** `fusedConvs`: convolutions through tf.fused.conv2d, as tfjs-layers' Conv2D runs them. */
  forward(x: tf.Tensor4D, training: boolean, fusedConvs?: boolean): tf.Tensor2D;
  numParams: number;
  dispose(): void;
}

/**
 * `fusedBatchNorm`: training-mode batch norm through `batchNormTraining` (one native call forward
 * and one backward on torch) instead of tf.moments + tf.batchNorm + running-stat arithmetic.
 */
export function resnet18(numClasses = 10, seed = 1, opts: { fusedBatchNorm?: boolean } = {}): ResNet18 {
  let s = seed;
  const all: tf.Variable[] = [];
  const trainable: tf.Variable[] = [];
  const conv = (k: number, cin: number, cout: number) => {
    // He-normal, as torchvision's kaiming init for conv layers.
    const v = tf.variable(tf.randomNormal([k, k, cin, cout], 0, Math.sqrt(2 / (k * k * cout)), 'float32', s++));
    all.push(v); trainable.push(v);
    return v;
  };
  const bn = (c: number): BN => {
    const gamma = tf.variable(tf.ones([c])); const beta = tf.variable(tf.zeros([c]));
    const mean = tf.variable(tf.zeros([c]), false); const variance = tf.variable(tf.ones([c]), false);
    all.push(gamma, beta, mean, variance); trainable.push(gamma, beta);
    return { gamma, beta, mean, variance };
  };
  const stem = conv(3, 3, 64);
  const stemBn = bn(64);
  const blocks: Block[] = [];
  let cin = 64;
  for (const [cout, stride] of [[64, 1], [128, 2], [256, 2], [512, 2]]) {
    for (let b = 0; b < 2; b++) {
      const st = b === 0 ? stride : 1;
      const block: Block = { conv1: conv(3, cin, cout), bn1: bn(cout), conv2: conv(3, cout, cout), bn2: bn(cout), stride: st };
      if (st !== 1 || cin !== cout) block.short = { conv: conv(1, cin, cout), bn: bn(cout) };
      blocks.push(block);
      cin = cout;
    }
  }
  const fcW = tf.variable(tf.randomUniform([512, numClasses], -1 / Math.sqrt(512), 1 / Math.sqrt(512), 'float32', s++));
  const fcB = tf.variable(tf.zeros([numClasses]));
  all.push(fcW, fcB); trainable.push(fcW, fcB);

  const norm = (x: tf.Tensor4D, p: BN, training: boolean): tf.Tensor4D => {
    if (!training) return tf.batchNorm(x, p.mean, p.variance, p.beta, p.gamma, 1e-5) as tf.Tensor4D;
    if (opts.fusedBatchNorm) {
      const r = batchNormTraining(x, { scale: p.gamma as tf.Tensor1D, offset: p.beta as tf.Tensor1D,
        runningMean: p.mean as tf.Tensor1D, runningVariance: p.variance as tf.Tensor1D, momentum: 0.1, epsilon: 1e-5 });
      p.mean.assign(r.runningMean!);
      p.variance.assign(r.runningVariance!);
      tf.dispose([r.runningMean!, r.runningVariance!]);
      return r.y as tf.Tensor4D;
    }
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    tf.tidy(() => {
      const n = x.shape[0] * x.shape[1] * x.shape[2];
      p.mean.assign(tf.add(tf.mul(p.mean, 0.9), tf.mul(mean, 0.1)));
      p.variance.assign(tf.add(tf.mul(p.variance, 0.9), tf.mul(variance, 0.1 * n / Math.max(1, n - 1))));
    });
    return tf.batchNorm(x, mean, variance, p.beta, p.gamma, 1e-5) as tf.Tensor4D;
  };
  const forward = (x: tf.Tensor4D, training: boolean, fusedConvs = false): tf.Tensor2D => {
    const c = (input: tf.Tensor4D, w: tf.Variable, stride: number): tf.Tensor4D => (fusedConvs
      ? tf.fused.conv2d({ x: input, filter: w as tf.Tensor4D, strides: stride, pad: 'same' })
      : tf.conv2d(input, w as tf.Tensor4D, stride, 'same'));
    let h = tf.relu(norm(c(x, stem, 1), stemBn, training));
    for (const b of blocks) {
      const y = tf.relu(norm(c(h, b.conv1, b.stride), b.bn1, training));
      const z = norm(c(y, b.conv2, 1), b.bn2, training);
      const sc = b.short ? norm(c(h, b.short.conv, b.stride), b.short.bn, training) : h;
      h = tf.relu(tf.add(z, sc)) as tf.Tensor4D;
    }
    const pooled = tf.mean(h, [1, 2]) as tf.Tensor2D;
    return tf.add(tf.matMul(pooled, fcW), fcB);
  };
  const numParams = trainable.reduce((n, v) => n + v.size, 0);
  return { trainable, forward, numParams, dispose: () => tf.dispose(all) };
}
