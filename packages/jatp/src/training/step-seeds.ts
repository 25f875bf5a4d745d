/**
 * Counter-based randomness for training. Every random draw of a run is a pure function of
 * (run seed, epoch, step, purpose): data order and augmentation in the data pipeline
 * (data/pipeline.ts keys them by seed, epoch and position), and the seed handed to
 * `Recipe.step` (attack random starts) here. A run resumed from a checkpoint therefore draws
 * exactly what an uninterrupted run would have drawn: the "RNG state" a checkpoint must hold is
 * just (seed, epoch, step), with no hidden generator state to persist.
 */

/** Purposes, so that draws for different uses at the same (epoch, step) are independent. */
export const SEED_PURPOSE = {
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
