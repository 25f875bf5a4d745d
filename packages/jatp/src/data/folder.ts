/**
 * Reader for users' own images: `<root>/train/<class>/*.png|jpg` and `<root>/test/<class>/*`.
 * Class names are the sorted sub-folder names of train/ (label = index). Every image must have the
 * same width and height; images are kept as RGB (alpha dropped). Decoding uses pngjs and jpeg-js.
 */
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import type { Dataset, Split } from './types.js';
import { DataFormatError, DatasetNotFoundError } from './errors.js';

const IMAGE_EXT = /\.(png|jpe?g)$/i;

/** Decodes a PNG or JPEG file to RGBA bytes. */
export function decodeImage(file: string): { width: number; height: number; rgba: Uint8Array } {
  const bytes = readFileSync(file);
  try {
    if (/\.png$/i.test(file)) {
      const png = PNG.sync.read(bytes);
      return { width: png.width, height: png.height, rgba: png.data };
    }
    // maxResolutionInMP / maxMemoryUsageInMB keep a corrupt header from allocating gigabytes.
    const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: 50, maxMemoryUsageInMB: 512 });
    return { width: img.width, height: img.height, rgba: img.data };
  } catch (err) {
    throw new DataFormatError(file, `cannot be decoded as ${/\.png$/i.test(file) ? 'PNG' : 'JPEG'} (${(err as Error).message})`);
  }
}

function subdirs(dir: string): string[] {
  return readdirSync(dir).filter((d) => statSync(join(dir, d)).isDirectory()).sort();
}

function readSplit(dir: string, classNames: readonly string[], shape: { h?: number; w?: number }): Split {
  const files: { file: string; label: number }[] = [];
  for (const name of subdirs(dir)) {
    const label = classNames.indexOf(name);
    if (label < 0) throw new DataFormatError(join(dir, name), `class folder "${name}" does not exist in train/ (classes: ${classNames.join(', ')})`);
    for (const f of readdirSync(join(dir, name)).sort()) if (IMAGE_EXT.test(f)) files.push({ file: join(dir, name, f), label });
  }
  if (files.length === 0) throw new DataFormatError(dir, 'contains no .png/.jpg images in its class sub-folders');
  let images: Uint8Array | undefined;
  const labels = new Int32Array(files.length);
  files.forEach(({ file, label }, i) => {
    const img = decodeImage(file);
    shape.h ??= img.height;
    shape.w ??= img.width;
    if (img.height !== shape.h || img.width !== shape.w) {
      throw new DataFormatError(file, `is ${img.width}x${img.height}, expected ${shape.w}x${shape.h} like the other images`);
    }
    const pixels = shape.h * shape.w;
    images ??= new Uint8Array(files.length * pixels * 3);
    const base = i * pixels * 3;
    for (let p = 0; p < pixels; p++) {
      images[base + 3 * p] = img.rgba[4 * p]!;
      images[base + 3 * p + 1] = img.rgba[4 * p + 1]!;
      images[base + 3 * p + 2] = img.rgba[4 * p + 2]!;
    }
    labels[i] = label;
  });
  return { images: images!, labels, count: files.length, imageShape: [shape.h!, shape.w!, 3] };
}

/** Reads `<root>/train/<class>/*` and `<root>/test/<class>/*`. */
export function readImageFolder(root: string): Dataset {
  const trainDir = join(root, 'train');
  const testDir = join(root, 'test');
  if (!existsSync(trainDir) || !existsSync(testDir)) {
    throw new DatasetNotFoundError(`folder:${root}: expected sub-folders train/<class>/*.png|jpg and test/<class>/*.png|jpg`);
  }
  const classNames = subdirs(trainDir);
  if (classNames.length < 2) throw new DataFormatError(trainDir, `needs at least 2 class sub-folders, found ${classNames.length}`);
  const shape: { h?: number; w?: number } = {};
  const train = readSplit(trainDir, classNames, shape);
  const test = readSplit(testDir, classNames, shape);
  return { name: basename(root), imageShape: [shape.h!, shape.w!, 3], numClasses: classNames.length, classNames, train, test, source: root };
}
