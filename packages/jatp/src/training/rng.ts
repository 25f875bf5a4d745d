/**
 * Counter-based randomness for training. Every random draw of a run (data order, augmentation,
 * attack random starts) is a pure function of (run seed, epoch, step, purpose), so a run resumed
 * from a checkpoint draws exactly what an uninterrupted run would have drawn: the "RNG state" a
 * checkpoint must hold is just (seed, epoch, step), with no hidden generator state to persist.
 */

/** Purposes, so that draws for different uses at the same (epoch, step) are independent. */
export const SEED_PURPOSE = {
  dataOrder: 1,
  augmentation: 2,
  recipeStep: 3,
} as const;

/** One round of the splitmix32 finaliser: a well-mixed 32-bit hash of a 32-bit word. */
function mix32(h: number): number {
  h = (h + 0x9e3779b9) | 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * A 31-bit seed derived from a base seed and any number of integer coordinates. Kept below 2^31
 * so it can be passed to tfjs' seeded random ops (which stringify it) and stored in JSON exactly.
 */
export function deriveSeed(seed: number, ...coords: number[]): number {
  let h = mix32(seed >>> 0);
  for (const c of coords) h = mix32(h ^ (c >>> 0));
  return h & 0x7fffffff;
}

/** mulberry32: small, fast, good enough for shuffles and crop offsets; returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher-Yates permutation of 0..n-1 from a seeded generator. */
export function seededPermutation(n: number, seed: number): Int32Array {
  const rand = mulberry32(seed);
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}
