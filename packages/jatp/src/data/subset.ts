/**
 * Subsets of a Split for CPU-scale runs (`--per-class N`) and for evaluation on part of a test set.
 * Subsets copy the selected images, so the result is an ordinary Split (no views into the parent).
 */
import type { Split } from './types.js';
import { STREAM, permutation, streamKey } from './pipeline-rng.js';

/** A new Split holding the images at `indices`, in that order. */
export function selectIndices(split: Split, indices: ArrayLike<number>): Split {
  const pixels = split.count > 0 ? split.images.length / split.count : 0;
  const images = new Uint8Array(indices.length * pixels);
  const labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const src = indices[i]!;
    if (!Number.isInteger(src) || src < 0 || src >= split.count) throw new RangeError(`index ${src} is outside the split (0..${split.count - 1})`);
    images.set(split.images.subarray(src * pixels, (src + 1) * pixels), i * pixels);
    labels[i] = split.labels[src]!;
  }
  return { images, labels, count: indices.length, ...(split.imageShape ? { imageShape: split.imageShape } : {}) };
}

function checkPerClass(perClass: number): void {
  if (!Number.isInteger(perClass) || perClass < 1) throw new RangeError(`perClass must be a positive integer, got ${perClass}`);
}

/**
 * `perClass` images of every class drawn at random (seeded; classes with fewer images contribute
 * all of theirs). The chosen images keep their original relative order, so the subset does not
 * depend on how labels are interleaved beyond the seed. Same (split, perClass, seed) -> same subset.
 */
export function stratifiedSubset(split: Split, perClass: number, seed: number): Split {
  checkPerClass(perClass);
  const perm = permutation(streamKey(seed, STREAM.subset, 0), split.count);
  const taken = new Map<number, number>();
  const chosen: number[] = [];
  for (const i of perm) {
    const label = split.labels[i]!;
    const n = taken.get(label) ?? 0;
    if (n < perClass) {
      taken.set(label, n + 1);
      chosen.push(i);
    }
  }
  chosen.sort((a, b) => a - b);
  return selectIndices(split, chosen);
}

/** The first `perClass` images of every class in file order: a seed-free evaluation subset. */
export function firstPerClass(split: Split, perClass: number): Split {
  checkPerClass(perClass);
  const taken = new Map<number, number>();
  const chosen: number[] = [];
  for (let i = 0; i < split.count; i++) {
    const label = split.labels[i]!;
    const n = taken.get(label) ?? 0;
    if (n < perClass) {
      taken.set(label, n + 1);
      chosen.push(i);
    }
  }
  return selectIndices(split, chosen);
}

/** The first `n` images (all of them when n >= count). */
export function firstN(split: Split, n: number): Split {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`n must be a non-negative integer, got ${n}`);
  const count = Math.min(n, split.count);
  return selectIndices(split, Array.from({ length: count }, (_, i) => i));
}

/** Number of images of each class (index = label). */
export function classCounts(split: Split, numClasses: number): number[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (const label of split.labels) counts[label] = (counts[label] ?? 0) + 1;
  return counts;
}
