/**
 * Shared fixture of the FAB-T / Square / FWA tests: a synthetic 3-class task on 8x8x3 images
 * (class k = a blocky ±1 template of amplitude 0.1 — top/bottom, left/right, diagonal quadrants —
 * added to grey noise) and two tiny undefended classifiers trained on it with a few Adam steps:
 * a linear model (its weights exposed for closed-form checks) and a one-hidden-layer ReLU net.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LogitsFn } from '../../src/models/types.js';

export const H = 8;
export const W = 8;
export const C = 3;
export const D = H * W * C;
export const K = 3;

/** Seeded uniform [0, 1) generator (no Math.random in tests). */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

export function syntheticData(n: number, seed: number): { x: tf.Tensor4D; y: tf.Tensor1D } {
  const rand = lcg(seed);
  const templates: number[][] = [[], [], []];
  for (let h = 0; h < H; h++) {
    for (let w = 0; w < W; w++) {
      for (let c = 0; c < C; c++) {
        templates[0]!.push(h < H / 2 ? 1 : -1);
        templates[1]!.push(w < W / 2 ? 1 : -1);
        templates[2]!.push((h < H / 2) === (w < W / 2) ? 1 : -1);
      }
    }
  }
  const xs = new Float32Array(n * D);
  const ys = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const k = i % K;
    ys[i] = k;
    for (let j = 0; j < D; j++) xs[i * D + j] = 0.5 + 0.2 * (rand() - 0.5) + 0.1 * templates[k]![j]!;
  }
  return { x: tf.tensor4d(xs, [n, H, W, C]), y: tf.tensor1d(ys, 'int32') };
}

function train(logits: (inp: tf.Tensor4D) => tf.Tensor2D, steps: number): void {
  const data = syntheticData(90, 7);
  const target = tf.oneHot(data.y, K);
  const opt = tf.train.adam(0.02);
  for (let s = 0; s < steps; s++) opt.minimize(() => tf.losses.softmaxCrossEntropy(target, logits(data.x)) as tf.Scalar);
  opt.dispose();
  tf.dispose([target, data.x, data.y]);
}

/** Logits of the centred image (x - 0.5), so that Adam converges in a few steps. */
const flat = (inp: tf.Tensor4D) => tf.reshape(tf.sub(inp, 0.5), [inp.shape[0], D]);

export interface TinyModels {
  /** Linear model: logits = flat(x) · wLin + bLin. */
  linear: LogitsFn;
  wLin: tf.Variable;
  bLin: tf.Variable;
  mlp: LogitsFn;
  /** `n` evaluation examples (seed 99), labels cycling 0..K-1. */
  x: tf.Tensor4D;
  y: tf.Tensor1D;
}

/** Trains both models (call after the backend and gradients are set up). */
export function tinyModels(n: number): TinyModels {
  const wLin = tf.variable(tf.zeros([D, K]));
  const bLin = tf.variable(tf.zeros([K]));
  const linLogits = (inp: tf.Tensor4D) => tf.add(tf.matMul(flat(inp), wLin), bLin) as tf.Tensor2D;
  train(linLogits, 40);
  const w1 = tf.variable(tf.randomNormal([D, 16], 0, 0.1, 'float32', 1));
  const b1 = tf.variable(tf.zeros([16]));
  const w2 = tf.variable(tf.randomNormal([16, K], 0, 0.3, 'float32', 2));
  const b2 = tf.variable(tf.zeros([K]));
  const mlpLogits = (inp: tf.Tensor4D) => tf.add(tf.matMul(tf.relu(tf.add(tf.matMul(flat(inp), w1), b1)), w2), b2) as tf.Tensor2D;
  train(mlpLogits, 60);
  const { x, y } = syntheticData(n, 99);
  return {
    linear: (inp) => tf.tidy(() => linLogits(inp)),
    wLin,
    bLin,
    mlp: (inp) => tf.tidy(() => mlpLogits(inp)),
    x,
    y,
  };
}
