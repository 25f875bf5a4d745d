/**
 * Shared helpers for the nn kernel tests: run the same tfjs program on the reference `cpu` backend
 * and on `torch`, with identical seeded random inputs, and compare every output element.
 */
import { createRequire } from 'node:module';
import assert from 'node:assert/strict';

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';

import { nativeBinding, torchStatus } from '../src/index.js';

// tfjs-core's node entry registers no gradients (tfjs-layers or the union package normally do).
if (tf.getGradient('Conv2D') === undefined) {
  createRequire(import.meta.url)('@tensorflow/tfjs-core/dist/register_all_gradients');
}

export { tf };

/** Why the torch tests cannot run here, or undefined when they can. */
export function skipReason(): string | undefined {
  const s = torchStatus();
  if (!s.available) return `torch backend unavailable: ${s.reason}`;
  if (!nativeBinding()?.hasNnOps) return 'addon built without ops_nn.cc';
  return undefined;
}

/** Deterministic uniform values in [-1, 1), never exactly zero (mulberry32). */
export function randomValues(n: number, seed: number): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    out[i] = u * 2 - 1 || 0.5;
  }
  return out;
}

export interface InputSpec {
  shape: number[];
  /** Offset added to the random values (e.g. positive variances). */
  shift?: number;
  scale?: number;
}

type Program = (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[] | tf.NamedTensorMap;

function flatten(out: tf.Tensor | tf.Tensor[] | tf.NamedTensorMap): tf.Tensor[] {
  if (out instanceof tf.Tensor) return [out];
  if (Array.isArray(out)) return out;
  return Object.keys(out).sort().map((k) => (out as tf.NamedTensorMap)[k]);
}

/** Runs `program` on `backend` with fresh inputs; returns the outputs' values and shapes. */
export async function runOn(backend: string, specs: InputSpec[], seed: number, program: Program):
  Promise<{ values: Float32Array[]; shapes: number[][] }> {
  await tf.setBackend(backend);
  const before = tf.memory().numTensors;
  const inputs = specs.map((s, i) => {
    const v = randomValues(s.shape.reduce((a, b) => a * b, 1), seed + 101 * i);
    const scale = s.scale ?? 1;
    const shift = s.shift ?? 0;
    for (let k = 0; k < v.length; k++) v[k] = v[k] * scale + shift;
    return tf.tensor(v, s.shape, 'float32');
  });
  const outs = tf.tidy(() => flatten(program(...inputs)));
  const values = outs.map((t) => Float32Array.from(t.dataSync() as ArrayLike<number>));
  const shapes = outs.map((t) => t.shape.slice());
  tf.dispose(outs);
  tf.dispose(inputs);
  assert.equal(tf.memory().numTensors, before, `${backend}: the program leaked tensors`);
  return { values, shapes };
}

/**
 * Asserts torch reproduces cpu on `program`: same output shapes, and for every element
 * |torch - cpu| <= rtol * |cpu| + rtol * rms(cpu output).
 */
export async function expectSameAsCpu(label: string, specs: InputSpec[], program: Program,
  opts: { seed?: number; rtol?: number } = {}): Promise<void> {
  const seed = opts.seed ?? 1234;
  const rtol = opts.rtol ?? 1e-4;
  const ref = await runOn('cpu', specs, seed, program);
  const got = await runOn('torch', specs, seed, program);
  assert.equal(got.values.length, ref.values.length, `${label}: number of outputs`);
  for (let o = 0; o < ref.values.length; o++) {
    assert.deepEqual(got.shapes[o], ref.shapes[o], `${label}: shape of output ${o}`);
    const r = ref.values[o];
    const g = got.values[o];
    let rms = 0;
    for (let i = 0; i < r.length; i++) rms += r[i] * r[i];
    rms = Math.sqrt(rms / Math.max(1, r.length));
    let worst = 0;
    let worstAt = -1;
    for (let i = 0; i < r.length; i++) {
      const err = Math.abs(g[i] - r[i]) - rtol * Math.abs(r[i]) - rtol * rms;
      if (!(err <= worst)) { worst = err; worstAt = i; }
    }
    assert.ok(worstAt < 0, `${label}: output ${o} differs at ${worstAt}: torch ${g[worstAt]} vs cpu ${r[worstAt]} (rms ${rms})`);
    // A comparison of all-zero outputs would prove nothing.
    assert.ok(rms > 0, `${label}: output ${o} is all zeros on cpu; pick inputs that exercise the kernel`);
  }
}

/** Kernel names dispatched while running `f` on the current backend. */
export async function kernelsRun(f: () => tf.TensorContainer): Promise<string[]> {
  const info = await tf.profile(() => f() as tf.Tensor);
  return info.kernels.map((k) => k.name);
}
