/**
 * Oblivious training examples for the baseline pre-processors, crafted once against the target alone
 * and cached on disk (spec §4: "trained on oblivious adversarial examples from PGD-40 ... against the
 * TRADES target"; the author's pipeline also stores fixed pairs). Two kinds:
 *
 * - 'pgd' (APE-G, HGD): L∞ PGD on CE against T, default PGD-40, step 0.007, eps 8/255, uniform start;
 * - 'ssp' (NRP, spec §4.3): self-supervised perturbation, maximise MSE(Φ(x'), Φ(x)) with Φ = T's
 *   feature map, 100 sign steps of 0.01, eps 8/255 (A15). Start: uniform in the ball (the shared
 *   attacks/feature-attack.ts), where NRP's script clips N(0,1) noise into the ball (mostly corners);
 *   over 100 steps the start hardly matters.
 *
 * Cache key: SHA-256 of the target (arch, options, every named weight incl. BN statistics), the
 * attack settings and the data subset (its pixels and labels), so changing any of them regenerates.
 * Storage: `<cacheDir>/<key>.u8` (the adversarial images as bytes, NHWC, the subset's order) and a
 * `<key>.json` sidecar saying what they are. Both written atomically.
 *
 * Storing bytes rounds each adversarial pixel to the 1/255 grid (at most 0.5/255 away) and then
 * clamps it back into the eps ball of the (grid-aligned) natural pixel: the examples stay valid
 * adversarial examples of radius eps; this small quantisation is the price of feeding pairs through the
 * shared uint8 input pipeline (see pairedSplit), where crop/flip augmentation moves both halves together.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs-core';
import type { Split } from '../data/types.js';
import type { Classifier } from '../models/types.js';
import { Pgd } from '../attacks/pgd.js';
import { writeFileAtomicSync } from '../io/atomic-write.js';
import { checkFeatureName, defaultFeatureOf } from './recipe-helpers.js';
import { FeatureAttack } from '../attacks/feature-attack.js';
import { PAPER_EPS } from '../data/threat-model.js';

/** The attack that crafts the cached oblivious training examples of the baselines (PGD or the feature attack). */
export type ObliviousAttackSpec =
  | { readonly kind: 'pgd'; readonly eps: number; readonly steps: number; readonly stepSize: number; readonly randomStart: boolean }
  | { readonly kind: 'ssp'; readonly eps: number; readonly steps: number; readonly stepSize: number; readonly featureLayer: string };

/** spec §4: PGD-40, CE, step 0.007, eps 8/255, uniform random start. */
export const OBLIVIOUS_PGD_DEFAULTS: ObliviousAttackSpec = { kind: 'pgd', eps: PAPER_EPS, steps: 40, stepSize: 0.007, randomStart: true };
/** spec §4.3 / A15: SSP with the target's feature map, 100 steps of 0.01, eps 8/255. */
export const SSP_DEFAULTS: ObliviousAttackSpec = { kind: 'ssp', eps: PAPER_EPS, steps: 100, stepSize: 0.01, featureLayer: 'default' };

export interface ObliviousCacheOptions {
  /** Folder of the cache files (created if needed). */
  readonly cacheDir: string;
  /** Images per attack batch. Default 128. */
  readonly batchSize?: number;
  /** Seed of the random starts (batch b uses seed + b). Default 0. */
  readonly seed?: number;
  /** Called after each batch with (images done, total). */
  readonly progress?: (done: number, total: number) => void;
}

export interface ObliviousExamples {
  /** Adversarial images as bytes, NHWC, in the order of the given split. */
  readonly images: Uint8Array;
  readonly key: string;
  readonly file: string;
  readonly fromCache: boolean;
}

function pixelsPerImage(shape: readonly [number, number, number]): number {
  return shape[0] * shape[1] * shape[2];
}

/** The cache key of (target, attack settings, data subset). */
export function obliviousCacheKey(target: Classifier, split: Split, spec: ObliviousAttackSpec, seed: number): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ version: 1, arch: target.arch, options: target.options, spec, seed }));
  const weights = [...target.namedWeights()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [name, v] of weights) {
    h.update(`${name}:${v.shape.join('x')}:`);
    const data = v.dataSync() as Float32Array;
    h.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  h.update(split.images);
  h.update(new Uint8Array(split.labels.buffer, split.labels.byteOffset, split.labels.byteLength));
  return h.digest('hex');
}

/** Craft one batch of oblivious examples (float, in the ball ∩ [0,1]). */
function craftBatch(target: Classifier, spec: ObliviousAttackSpec, x: tf.Tensor4D, y: tf.Tensor1D, seed: number): tf.Tensor4D {
  if (spec.kind === 'pgd') {
    const attack = new Pgd({ norm: 'Linf', loss: 'ce', keepBest: false, eps: spec.eps, steps: spec.steps, stepSize: spec.stepSize, randomStart: spec.randomStart });
    return attack.run((z) => target.apply(z, false) as tf.Tensor2D, x, y, seed).xAdv;
  }
  const layer = checkFeatureName(target, spec.featureLayer === 'default' ? defaultFeatureOf(target) : spec.featureLayer);
  const phi = (z: tf.Tensor4D): tf.Tensor => {
    const { output, features } = target.applyWithFeatures(z, [layer], false);
    output.dispose();
    return features[layer]!;
  };
  return new FeatureAttack({ eps: spec.eps, steps: spec.steps, stepSize: spec.stepSize, randomStart: true }).craft(phi, x, seed);
}

/**
 * Oblivious examples for every image of `split` (already the training subset), from the cache when
 * present, else crafted and cached.
 */
export function obliviousExamples(
  target: Classifier,
  split: Split,
  imageShape: readonly [number, number, number],
  spec: ObliviousAttackSpec,
  options: ObliviousCacheOptions,
): ObliviousExamples {
  const seed = options.seed ?? 0;
  const batchSize = options.batchSize ?? 128;
  const ppi = pixelsPerImage(imageShape);
  if (split.images.length !== split.count * ppi) {
    throw new Error(`example-cache: split holds ${split.images.length} bytes, expected ${split.count} x ${imageShape.join('x')}`);
  }
  const key = obliviousCacheKey(target, split, spec, seed);
  const file = path.join(options.cacheDir, `${key}.u8`);
  if (fs.existsSync(file)) {
    const bytes = fs.readFileSync(file);
    if (bytes.length === split.images.length) {
      return { images: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), key, file, fromCache: true };
    }
    process.emitWarning(`${file}: ${bytes.length} bytes, expected ${split.images.length}; regenerating`);
  }
  const out = new Uint8Array(split.images.length);
  // eps in byte units; the natural pixel is on the grid, so the clamp keeps |adv - x| <= eps exactly.
  const epsBytes = Math.floor(spec.eps * 255 + 1e-6);
  for (let start = 0, b = 0; start < split.count; start += batchSize, b++) {
    const n = Math.min(batchSize, split.count - start);
    const natBytes = split.images.subarray(start * ppi, (start + n) * ppi);
    const advBytes = tf.tidy(() => {
      const x = tf.div(tf.tensor4d(natBytes, [n, ...imageShape], 'float32'), 255) as tf.Tensor4D;
      const y = tf.tensor1d(split.labels.subarray(start, start + n), 'int32');
      const adv = craftBatch(target, spec, x, y, seed + b);
      return adv.dataSync() as Float32Array;
    });
    for (let i = 0; i < advBytes.length; i++) {
      const nat = natBytes[i]!;
      const q = Math.round(advBytes[i]! * 255);
      out[start * ppi + i] = Math.min(255, nat + epsBytes, Math.max(0, nat - epsBytes, q));
    }
    options.progress?.(start + n, split.count);
  }
  writeFileAtomicSync(file, Buffer.from(out.buffer, out.byteOffset, out.byteLength));
  writeFileAtomicSync(
    path.join(options.cacheDir, `${key}.json`),
    JSON.stringify({ key, target: { arch: target.arch, options: target.options }, spec, seed, count: split.count, imageShape, createdAt: new Date().toISOString() }, null, 2) + '\n',
  );
  return { images: out, key, file, fromCache: false };
}

/**
 * A Split whose images are [natural | adversarial] along the channel axis (2C channels), for the
 * shared input pipeline; baselines split each batch back (recipe-helpers.ts splitPairedBatch).
 */
export function pairedSplit(
  natural: Split,
  adversarialImages: Uint8Array,
  imageShape: readonly [number, number, number],
): { split: Split; imageShape: [number, number, number] } {
  const [h, w, c] = imageShape;
  if (adversarialImages.length !== natural.images.length) {
    throw new Error(`pairedSplit: ${adversarialImages.length} adversarial bytes for ${natural.images.length} natural bytes`);
  }
  const pixels = natural.count * h * w;
  const images = new Uint8Array(pixels * 2 * c);
  for (let p = 0; p < pixels; p++) {
    for (let k = 0; k < c; k++) {
      images[p * 2 * c + k] = natural.images[p * c + k]!;
      images[p * 2 * c + c + k] = adversarialImages[p * c + k]!;
    }
  }
  return { split: { images, labels: natural.labels, count: natural.count }, imageShape: [h, w, 2 * c] };
}
