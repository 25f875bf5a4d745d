/**
 * Counter-based random numbers for the input pipeline (Math.random is never used).
 *
 * Why counter-based: a resumed run must see the same permutation and the same augmentation as an
 * uninterrupted one, starting at any batch. With a counter-based generator the i-th draw of a
 * stream is a pure function of (key, i), so batch k's draws can be computed without replaying
 * batches 0..k-1.
 *
 * Key derivation: `streamKey(seed, purpose, epoch)` runs SplitMix64 (Steele, Lea & Flood 2014) over
 * the 64-bit words seed, purpose and epoch and keeps two 32-bit halves (k0, k1). A draw is
 * `draw(key, i) = fmix32(fmix32(i ^ k0) ^ k1)`, where fmix32 is MurmurHash3's 32-bit finaliser
 * (a bijection with full avalanche). Different purposes (shuffle, crop, flip) get independent keys.
 */

const MASK64 = (1n << 64n) - 1n;

function splitmix64Step(state: bigint): [bigint, bigint] {
  const next = (state + 0x9e3779b97f4a7c15n) & MASK64;
  let z = next;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  z = z ^ (z >> 31n);
  return [next, z];
}

/** Two 32-bit key words identifying one random stream. */
export interface StreamKey {
  readonly k0: number;
  readonly k1: number;
}

/** Purposes of the pipeline's random streams; each gets an independent key. */
export const STREAM = { shuffle: 1, crop: 2, flip: 3, subset: 4 } as const;

/** Derives the key of the stream (seed, purpose, epoch) with SplitMix64; see the module comment. */
export function streamKey(seed: number, purpose: number, epoch: number): StreamKey {
  let state = BigInt.asUintN(64, BigInt(Math.trunc(seed)));
  let out: bigint;
  for (const word of [purpose, epoch]) {
    [state, out] = splitmix64Step(state);
    state = (out ^ BigInt.asUintN(64, BigInt(Math.trunc(word)))) & MASK64;
  }
  [state, out] = splitmix64Step(state);
  return { k0: Number(out & 0xffffffffn), k1: Number((out >> 32n) & 0xffffffffn) };
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The counter-th 32-bit draw of a stream, as an unsigned integer. */
export function draw(key: StreamKey, counter: number): number {
  return fmix32((fmix32((counter ^ key.k0) >>> 0) ^ key.k1) >>> 0);
}

/** The counter-th draw mapped to an integer in [0, n) (multiply-shift; bias < n / 2^32). */
export function drawBelow(key: StreamKey, counter: number, n: number): number {
  return Math.floor((draw(key, counter) / 4294967296) * n);
}

/**
 * A permutation of 0..n-1 by Fisher-Yates, where swap i uses draw i of `key`. Same key -> same
 * permutation on every machine (only integer arithmetic).
 */
export function permutation(key: StreamKey, n: number): Int32Array {
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = drawBelow(key, i, i + 1);
    const t = perm[i]!;
    perm[i] = perm[j]!;
    perm[j] = t;
  }
  return perm;
}
