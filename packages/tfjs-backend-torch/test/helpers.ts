/**
 * Test helpers: run the same tfjs program on 'torch' and on the stock 'cpu' backend (the
 * independent reference) and compare, plus a seeded random source.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

import { torchStatus } from '../src/index.js';

// tfjs-core's node bundle registers no gradients; its ESM dist does, loaded through tsx's require
// (the dist uses extensionless imports that only CommonJS resolution handles).
if (tf.getGradient('Relu') === undefined) {
  const require = createRequire(import.meta.url);
  require('@tensorflow/tfjs-core/dist/register_all_gradients');
  require('@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops'); // gradients use x.reshape()
}

export const status = torchStatus();
/** Pass as node:test's `skip` option: a reason string when the addon is unavailable. */
export const skipReason: string | false = status.available ? false : `torch backend unavailable: ${status.reason}`;

/** Small deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Inputs are drawn from a counter that compareWithCpu rewinds before each backend's run, so the
// torch and cpu runs of one program see identical random inputs.
let counter = 0;
let base = 0;
export function nextSeed(): number {
  return ++counter;
}

/** n random non-zero floats in [lo, hi) (values too close to zero are pushed away from it). */
export function randFloats(n: number, seed: number, lo = -3, hi = 3): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => {
    let v = lo + (hi - lo) * r();
    if (Math.abs(v) < 0.05) v = v < 0 ? -0.05 - r() * 0.1 : 0.05 + r() * 0.1;
    return Math.min(Math.max(v, lo), hi - 1e-6);
  });
}

export function randInts(n: number, seed: number, lo = -9, hi = 10, nonZero = true): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => {
    let v = lo + Math.floor((hi - lo) * r());
    if (nonZero && v === 0) v = 1;
    return v;
  });
}

export function randBools(n: number, seed: number): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => (r() < 0.5 ? 1 : 0));
}

export interface Result { shape: number[]; dtype: string; values: number[] }

/** Runs `f` on a backend and reads every output; checks that no tensor leaks out of the run. */
export async function runOn(backend: string, f: () => tf.Tensor | tf.Tensor[]): Promise<Result[]> {
  await tf.setBackend(backend);
  const before = tf.memory().numTensors;
  const outs = tf.tidy(f);
  const list = Array.isArray(outs) ? outs : [outs];
  const res = list.map((t) => ({ shape: t.shape.slice(), dtype: t.dtype, values: Array.from(t.dataSync() as ArrayLike<number>) }));
  tf.dispose(list);
  assert.equal(tf.memory().numTensors, before, `${backend}: tensors leaked`);
  return res;
}

export function assertClose(actual: Result[], expected: Result[], what: string, rtol = 1e-5, atol = 1e-5): void {
  assert.equal(actual.length, expected.length, `${what}: number of outputs`);
  for (let k = 0; k < actual.length; k++) {
    const a = actual[k], e = expected[k];
    assert.deepEqual(a.shape, e.shape, `${what}[${k}]: shape`);
    assert.equal(a.dtype, e.dtype, `${what}[${k}]: dtype`);
    for (let i = 0; i < e.values.length; i++) {
      const x = a.values[i], y = e.values[i];
      if (Number.isNaN(y)) { assert.ok(Number.isNaN(x), `${what}[${k}][${i}]: expected NaN, got ${x}`); continue; }
      if (!Number.isFinite(y)) { assert.equal(x, y, `${what}[${k}][${i}]`); continue; }
      assert.ok(Math.abs(x - y) <= atol + rtol * Math.abs(y), `${what}[${k}][${i}]: torch ${x} vs cpu ${y}`);
    }
  }
}

/** The program on torch vs the program on cpu. */
export async function compareWithCpu(what: string, f: () => tf.Tensor | tf.Tensor[], rtol = 1e-5, atol = 1e-5): Promise<void> {
  base += 1000;
  counter = base;
  const t = await runOn('torch', f);
  counter = base;
  const c = await runOn('cpu', f);
  assertClose(t, c, what, rtol, atol);
}
