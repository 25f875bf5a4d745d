/**
 * The report's image grid for one full model: for a few fixed test images (the first ones of the
 * test split), the natural image, the adversarial one, the pre-processor's output on it, and
 * |purified − natural| amplified, as PNG files (pngjs) with the labels the model predicts, in
 * `<cell>/gallery/`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { PNG } from 'pngjs';
import type { Split } from '../../data/types.js';
import { toFloatBatch } from '../../data/pipeline.js';
import type { Attack } from '../../attacks/types.js';
import type { EvaluatedModel } from '../../evaluation/evaluate.js';
import { writeFileAtomicSync } from '../../io/atomic-write.js';

/** |purified − natural| is multiplied by this before display (an 8/255 perturbation would be invisible). */
export const DIFF_AMPLIFICATION = 5;
/** Images are enlarged (nearest neighbour) to at least this side. */
const MIN_SIDE = 64;

export interface GalleryJson {
  readonly amplification: number;
  readonly images: {
    readonly index: number;
    readonly label: string;
    readonly predictedNatural: string;
    readonly predictedAdversarial: string;
    readonly files: { natural: string; adversarial: string; purified: string; difference: string };
  }[];
}

function toPng(pixels: Float32Array, h: number, w: number, c: number): Buffer {
  const k = Math.max(1, Math.ceil(MIN_SIDE / Math.max(h, w)));
  const png = new PNG({ width: w * k, height: h * k });
  for (let y = 0; y < h * k; y++) {
    for (let x = 0; x < w * k; x++) {
      const src = (Math.floor(y / k) * w + Math.floor(x / k)) * c;
      const dst = 4 * (y * w * k + x);
      for (let ch = 0; ch < 3; ch++) png.data[dst + ch] = Math.round(255 * Math.min(1, Math.max(0, pixels[src + (c === 1 ? 0 : ch)]!)));
      png.data[dst + 3] = 255;
    }
  }
  return PNG.sync.write(png);
}

function argmax(logits: tf.Tensor2D): number[] {
  const a = tf.tidy(() => tf.argMax(logits, 1));
  const v = Array.from(a.dataSync());
  a.dispose();
  return v;
}

export function writeGallery(dir: string, model: EvaluatedModel, split: Split, classNames: readonly string[], attack: Attack, seed: number): void {
  if (split.count === 0) return;
  const out = path.join(dir, 'gallery');
  fs.mkdirSync(out, { recursive: true });
  const indices = Array.from({ length: split.count }, (_, i) => i);
  const { x, y } = toFloatBatch(split, indices);
  const { xAdv } = attack.run(model.logits, x, y, seed);
  const purified = tf.tidy(() => (model.preprocess ? model.preprocess(xAdv) : xAdv.clone()));
  const diff = tf.tidy(() => tf.clipByValue(tf.mul(tf.abs(tf.sub(purified, x)), DIFF_AMPLIFICATION), 0, 1));
  const natLogits = model.logits(x);
  const advLogits = model.logits(xAdv);
  const predNat = argmax(natLogits);
  const predAdv = argmax(advLogits);
  const [, h, w, c] = x.shape;
  const per = h * w * c;
  const arrays = { natural: x.dataSync() as Float32Array, adversarial: xAdv.dataSync() as Float32Array, purified: purified.dataSync() as Float32Array, difference: diff.dataSync() as Float32Array };
  const labels = Array.from(y.dataSync());
  const name = (k: number) => classNames[k] ?? String(k);
  const images: GalleryJson['images'] = indices.map((i) => {
    const files = {} as Record<keyof typeof arrays, string>;
    for (const kind of Object.keys(arrays) as (keyof typeof arrays)[]) {
      files[kind] = `${i}-${kind}.png`;
      writeFileAtomicSync(path.join(out, files[kind]), toPng(arrays[kind].subarray(i * per, (i + 1) * per), h, w, c));
    }
    return { index: i, label: name(labels[i]!), predictedNatural: name(predNat[i]!), predictedAdversarial: name(predAdv[i]!), files };
  });
  tf.dispose([x, y, xAdv, purified, diff, natLogits, advLogits]);
  const json: GalleryJson = { amplification: DIFF_AMPLIFICATION, images };
  writeFileAtomicSync(path.join(out, 'gallery.json'), `${JSON.stringify(json, null, 1)}\n`);
}
