/**
 * Reader for SVHN "cropped digits" (Netzer et al. 2011): `train_32x32.mat`, `test_32x32.mat`
 * (and `extra_32x32.mat`, not used by the paper). Each file holds X, a 32x32x3xN uint8 array in
 * MATLAB column-major order, and y, an Nx1 array with labels 1..10 where 10 means digit 0
 * (spec §1: remapped so class k = digit k).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Dataset, Split } from './types.js';
import { DataFormatError, DatasetNotFoundError } from './errors.js';
import { parseMat } from './mat.js';

export const SVHN_FILES = { train: 'train_32x32.mat', test: 'test_32x32.mat', extra: 'extra_32x32.mat' } as const;
/** SVHN class names (the digits), in label order. */
export const SVHN_CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] as const;
const SIDE = 32;

/** Parses one SVHN .mat file's bytes into an NHWC Split. */
export function parseSvhnMat(bytes: Uint8Array, file: string): Split {
  const vars = parseMat(bytes, file, new Set(['X', 'y']));
  const X = vars.get('X');
  const y = vars.get('y');
  if (!X) throw new DataFormatError(file, 'has no variable X (expected 32x32x3xN uint8 images)');
  if (!y) throw new DataFormatError(file, 'has no variable y (expected Nx1 labels 1..10)');
  if (X.dims.length !== 4 || X.dims[0] !== SIDE || X.dims[1] !== SIDE || X.dims[2] !== 3) {
    throw new DataFormatError(file, `X has dims [${X.dims.join('x')}], expected 32x32x3xN`);
  }
  if (!(X.values instanceof Uint8Array)) throw new DataFormatError(file, `X is stored as data type ${X.storage}, expected uint8 pixels`);
  const count = X.dims[3]!;
  const yCount = y.dims.reduce((a, b) => a * b, 1);
  if (y.dims.length !== 2 || Math.min(y.dims[0]!, y.dims[1]!) !== 1 || yCount !== count) {
    throw new DataFormatError(file, `y has dims [${y.dims.join('x')}] but X has ${count} images (expected ${count}x1)`);
  }
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const v = y.values[i]!;
    if (!Number.isInteger(v) || v < 1 || v > 10) throw new DataFormatError(file, `label y(${i + 1}) = ${v} is out of range 1..10`);
    labels[i] = v === 10 ? 0 : v;
  }
  // Column-major X(row, col, channel, n) -> NHWC, once at load time.
  const src = X.values;
  const images = new Uint8Array(count * SIDE * SIDE * 3);
  const plane = SIDE * SIDE;
  for (let n = 0; n < count; n++) {
    const inBase = n * 3 * plane;
    const outBase = n * 3 * plane;
    for (let c = 0; c < 3; c++) {
      for (let col = 0; col < SIDE; col++) {
        const inCol = inBase + c * plane + col * SIDE;
        for (let row = 0; row < SIDE; row++) images[outBase + (row * SIDE + col) * 3 + c] = src[inCol + row]!;
      }
    }
  }
  return { images, labels, count, imageShape: [SIDE, SIDE, 3] };
}

export function readSvhnFile(file: string): Split {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new DataFormatError(file, `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return parseSvhnMat(bytes, file);
}

/** Reads SVHN train + test from a folder holding train_32x32.mat and test_32x32.mat. */
export function readSvhn(dir: string): Dataset {
  const train = join(dir, SVHN_FILES.train);
  const test = join(dir, SVHN_FILES.test);
  const missing = [train, test].filter((f) => !existsSync(f));
  if (missing.length > 0) throw new DatasetNotFoundError(`svhn: missing ${missing.join(', ')}`);
  return {
    name: 'svhn',
    imageShape: [SIDE, SIDE, 3],
    numClasses: 10,
    classNames: SVHN_CLASSES,
    train: readSvhnFile(train),
    test: readSvhnFile(test),
    source: dir,
  };
}
