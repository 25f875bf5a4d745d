/** Test helpers: deterministic synthetic splits (a tiny LCG, independent of the code under test). */
import type { Split } from '../../src/data/types.js';

export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s;
  };
}

export function syntheticSplit(count: number, shape: [number, number, number], numClasses: number, seed = 1): Split {
  const next = lcg(seed);
  const per = shape[0] * shape[1] * shape[2];
  const images = new Uint8Array(count * per);
  for (let i = 0; i < images.length; i++) images[i] = next() >>> 24;
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) labels[i] = i % numClasses;
  return { images, labels, count, imageShape: shape };
}
