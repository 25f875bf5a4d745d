/**
 * Reader for the CIFAR-10 binary version (Krizhevsky 2009; spec §1 dataset). Each record is 3,073
 * bytes: one label byte, then the 1,024 red, 1,024 green and 1,024 blue bytes of a 32x32 image,
 * each plane row-major. Accepted inputs:
 *  - a `cifar-10-batches-bin/` folder (data_batch_1..5.bin, test_batch.bin; any batch may be
 *    Brotli-compressed as `.bin.br`, as in the shared JPEG-rebuilt copy),
 *  - a folder containing that folder or the official `cifar-10-binary.tar.gz`,
 *  - the official `cifar-10-binary.tar.gz` itself (read in memory, nothing extracted).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as tar from 'tar';
import type { Dataset, Split } from './types.js';
import { DataFormatError, DatasetNotFoundError } from './errors.js';
import { isGzip, readMaybeCompressed } from './io.js';

/** CIFAR-10 class names, in label order. */
export const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'] as const;
const SIDE = 32;
const PLANE = SIDE * SIDE;
const RECORD = 1 + 3 * PLANE;
export const CIFAR10_TRAIN_BATCHES = ['data_batch_1', 'data_batch_2', 'data_batch_3', 'data_batch_4', 'data_batch_5'] as const;
export const CIFAR10_TEST_BATCH = 'test_batch';
export const CIFAR10_ARCHIVE = 'cifar-10-binary.tar.gz';
export const CIFAR10_FOLDER = 'cifar-10-batches-bin';

/**
 * Converts concatenated records to NHWC bytes + labels. The planar -> interleaved reorder is a host
 * loop over bytes: it runs once at load time, not per training batch.
 */
export function parseCifarRecords(bytes: Uint8Array, file: string): Split {
  if (bytes.length === 0 || bytes.length % RECORD !== 0) {
    throw new DataFormatError(file, `size ${bytes.length} bytes is not a positive multiple of the ${RECORD}-byte CIFAR-10 record (1 label + 3x32x32 pixels); the file is truncated or not a CIFAR-10 batch`);
  }
  const count = bytes.length / RECORD;
  const images = new Uint8Array(count * 3 * PLANE);
  const labels = new Int32Array(count);
  for (let r = 0; r < count; r++) {
    const base = r * RECORD;
    const label = bytes[base]!;
    if (label >= CIFAR10_CLASSES.length) {
      throw new DataFormatError(file, `record ${r}: label byte ${label} is out of range 0..9 (wrong record size or not a CIFAR-10 batch)`);
    }
    labels[r] = label;
    const out = r * 3 * PLANE;
    for (let p = 0; p < PLANE; p++) {
      images[out + 3 * p] = bytes[base + 1 + p]!;
      images[out + 3 * p + 1] = bytes[base + 1 + PLANE + p]!;
      images[out + 3 * p + 2] = bytes[base + 1 + 2 * PLANE + p]!;
    }
  }
  return { images, labels, count };
}

function concatSplits(parts: Split[]): Split {
  const count = parts.reduce((s, p) => s + p.count, 0);
  const images = new Uint8Array(count * 3 * PLANE);
  const labels = new Int32Array(count);
  let at = 0;
  for (const p of parts) {
    images.set(p.images, at * 3 * PLANE);
    labels.set(p.labels, at);
    at += p.count;
  }
  return { images, labels, count };
}

function makeDataset(train: Split, test: Split, source: string, classNames: readonly string[]): Dataset {
  const imageShape = [SIDE, SIDE, 3] as const;
  return {
    name: 'cifar10',
    imageShape,
    numClasses: 10,
    classNames,
    train: { ...train, imageShape },
    test: { ...test, imageShape },
    source,
  };
}

function batchFile(dir: string, base: string): string | undefined {
  for (const candidate of [`${base}.bin`, `${base}.bin.br`]) {
    const file = join(dir, candidate);
    if (existsSync(file)) return file;
  }
  return undefined;
}

function readClassNames(dir: string): readonly string[] {
  const meta = join(dir, 'batches.meta.txt');
  if (!existsSync(meta)) return CIFAR10_CLASSES;
  const names = readFileSync(meta, 'utf8').split('\n').map((s) => s.trim()).filter((s) => s.length > 0);
  if (names.length !== 10) throw new DataFormatError(meta, `expected 10 class names (one per line), found ${names.length}`);
  return names;
}

/** Reads a `cifar-10-batches-bin`-style folder; returns undefined when it holds no batches at all. */
export function readCifarFolder(dir: string): Dataset | undefined {
  const testFile = batchFile(dir, CIFAR10_TEST_BATCH);
  const trainFiles = CIFAR10_TRAIN_BATCHES.map((b) => batchFile(dir, b));
  if (testFile === undefined && trainFiles.every((f) => f === undefined)) return undefined;
  const missing = [...CIFAR10_TRAIN_BATCHES.filter((_, i) => trainFiles[i] === undefined), ...(testFile ? [] : [CIFAR10_TEST_BATCH])];
  if (missing.length > 0) {
    throw new DataFormatError(dir, `incomplete CIFAR-10 folder: missing ${missing.map((m) => `${m}.bin`).join(', ')} (each may also be .bin.br)`);
  }
  const train = concatSplits(trainFiles.map((f) => parseCifarRecords(readMaybeCompressed(f!), f!)));
  const test = parseCifarRecords(readMaybeCompressed(testFile!), testFile!);
  return makeDataset(train, test, dir, readClassNames(dir));
}

/**
 * Reads the official tar.gz in memory. Only regular files named `<anything>/data_batch_N.bin`,
 * `test_batch.bin` and `batches.meta.txt` are used; other entries are ignored.
 */
export function readCifarArchive(file: string): Dataset {
  const raw = readFileSync(file);
  if (!isGzip(raw)) throw new DataFormatError(file, 'is not a gzip file (expected the official cifar-10-binary.tar.gz)');
  const contents = new Map<string, Buffer[]>();
  try {
    tar.t({
      file,
      sync: true,
      strict: true,
      onReadEntry: (entry) => {
        const base = entry.path.split('/').pop() ?? '';
        if (entry.type === 'File' && (/^(data_batch_[1-5]|test_batch)\.bin$/.test(base) || base === 'batches.meta.txt')) {
          const chunks: Buffer[] = [];
          contents.set(base, chunks);
          entry.on('data', (c: Buffer) => chunks.push(c));
        } else {
          entry.resume();
        }
      },
    });
  } catch (err) {
    throw new DataFormatError(file, `is not a readable tar.gz archive (${(err as Error).message})`);
  }
  const get = (name: string): Uint8Array => {
    const chunks = contents.get(name);
    if (!chunks) throw new DataFormatError(file, `archive has no ${CIFAR10_FOLDER}/${name} (is it cifar-10-binary.tar.gz?)`);
    return Buffer.concat(chunks);
  };
  const train = concatSplits(CIFAR10_TRAIN_BATCHES.map((b) => parseCifarRecords(get(`${b}.bin`), `${file}:${b}.bin`)));
  const test = parseCifarRecords(get(`${CIFAR10_TEST_BATCH}.bin`), `${file}:${CIFAR10_TEST_BATCH}.bin`);
  let classNames: readonly string[] = CIFAR10_CLASSES;
  if (contents.has('batches.meta.txt')) {
    const names = Buffer.from(get('batches.meta.txt')).toString('utf8').split('\n').map((s) => s.trim()).filter((s) => s.length > 0);
    if (names.length === 10) classNames = names;
  }
  return makeDataset(train, test, file, classNames);
}

/** Finds CIFAR-10 at `location` (a batches folder, a folder above it, or the tar.gz). */
export function readCifar10(location: string): Dataset {
  if (!existsSync(location)) throw new DatasetNotFoundError(`cifar10: ${location} does not exist`);
  if (statSync(location).isFile()) return readCifarArchive(location);
  const direct = readCifarFolder(location);
  if (direct) return direct;
  const nested = join(location, CIFAR10_FOLDER);
  if (existsSync(nested)) {
    const ds = readCifarFolder(nested);
    if (ds) return ds;
  }
  const archive = join(location, CIFAR10_ARCHIVE);
  if (existsSync(archive)) return readCifarArchive(archive);
  throw new DatasetNotFoundError(
    `cifar10: no CIFAR-10 files in ${location}: expected data_batch_1..5.bin + test_batch.bin (or .bin.br), ` +
      `a ${CIFAR10_FOLDER}/ folder, or ${CIFAR10_ARCHIVE}`,
  );
}
