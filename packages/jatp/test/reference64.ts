/**
 * Float64 reference arithmetic for the recipe-step tests: small dense networks written as plain JS
 * functions of named parameter arrays, the losses the recipes minimise written out again from the
 * formulas (never by calling the code under test), and central finite differences in float64 for
 * their gradients. A tfjs network in a test holds the same parameters (read back with `paramsOf`),
 * so the test can compare one `recipe.step` with one SGD step computed here.
 */
import * as tf from '@tensorflow/tfjs-core';

/** A matrix as rows of numbers. */
export type Mat = number[][];
/** Named flat parameter arrays (row-major), the float64 image of a network's variables. */
export type Params = Record<string, number[]>;

/** The variables' current values, as float64 arrays under the given names. */
export function paramsOf(named: Record<string, tf.Variable>): Params {
  return Object.fromEntries(Object.entries(named).map(([k, v]) => [k, Array.from(v.dataSync())]));
}

/** Rows of a flat array. */
export function rows(flat: ArrayLike<number>, n: number): Mat {
  const width = flat.length / n;
  return Array.from({ length: n }, (_, r) => Array.from({ length: width }, (_, c) => flat[r * width + c]!));
}

/** x [N, I] · W (flat [I, O], row-major) + b [O]. */
export function dense(x: Mat, w: number[], b: number[]): Mat {
  const out = b.length;
  return x.map((row) => b.map((bk, k) => row.reduce((s, xi, i) => s + xi * w[i * out + k]!, bk)));
}

export const map2 = (m: Mat, f: (v: number) => number): Mat => m.map((r) => r.map(f));
export const mean = (v: number[]): number => v.reduce((a, c) => a + c, 0) / v.length;
/** Mean over every element of a matrix. */
export const meanAll = (m: Mat): number => mean(m.flat());
export const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));
/** log(1 + e^v), stable. */
export const softplus = (v: number): number => (v > 0 ? v + Math.log1p(Math.exp(-v)) : Math.log1p(Math.exp(v)));

export function softmax(z: number[]): number[] {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, c) => a + c, 0);
  return e.map((v) => v / s);
}

/** -log softmax(z)[y]. */
export function ce(z: number[], y: number): number {
  const m = Math.max(...z);
  return Math.log(z.reduce((s, v) => s + Math.exp(v - m), 0)) + m - z[y]!;
}

/** KL(p || q) = sum_k p_k (log p_k - log q_k). */
export function kl(p: number[], q: number[]): number {
  return p.reduce((s, pk, k) => s + pk * (Math.log(pk) - Math.log(q[k]!)), 0);
}

/**
 * MART's boosted cross-entropy of one example (JATP Eq. 7): -log q_y - log(1.0001 - q_k* + 1e-12),
 * q = softmax(z), k* the strongest wrong class.
 */
export function boostedCe(z: number[], y: number): number {
  const q = softmax(z);
  let pStar = -1;
  q.forEach((p, k) => {
    if (k !== y && p > pStar) pStar = p;
  });
  return ce(z, y) - Math.log(1.0001 - pStar + 1e-12);
}

/** A deep copy of the parameters with one entry shifted. */
function shifted(p: Params, name: string, i: number, by: number): Params {
  const q: Params = { ...p, [name]: p[name]!.slice() };
  q[name]![i]! += by;
  return q;
}

/** Central finite differences (f(p + h) - f(p - h)) / 2h of `loss` for the named parameters. */
export function fdGrad(loss: (p: Params) => number, p: Params, names: readonly string[], h = 1e-6): Params {
  const g: Params = {};
  for (const name of names) {
    g[name] = p[name]!.map((_, i) => (loss(shifted(p, name, i, h)) - loss(shifted(p, name, i, -h))) / (2 * h));
  }
  return g;
}

/** One plain SGD step p - lr g on the named parameters (the others are copied). */
export function sgdStep(p: Params, g: Params, lr: number): Params {
  const out: Params = { ...p };
  for (const [name, gn] of Object.entries(g)) out[name] = p[name]!.map((v, i) => v - lr * gn[i]!);
  return out;
}

/** Largest |a - b| over the named arrays. */
export function maxDiff(a: Params, b: Params, names: readonly string[]): number {
  let worst = 0;
  for (const n of names) a[n]!.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - b[n]![i]!))));
  return worst;
}

/** Deterministic float in [-1, 1) from an integer (no shared RNG state between tests). */
export function hashFloat(i: number, salt = 0): number {
  let h = (Math.imul(i + 1, 0x9e3779b1) ^ Math.imul(salt + 7, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
  h = Math.imul(h ^ (h >>> 12), 0x297a2d39) >>> 0;
  return ((h ^ (h >>> 15)) >>> 0) / 2147483648 - 1;
}

/** `count` hashed values in [-scale, scale). */
export function hashed(count: number, salt: number, scale: number): number[] {
  return Array.from({ length: count }, (_, i) => scale * hashFloat(i, salt));
}
