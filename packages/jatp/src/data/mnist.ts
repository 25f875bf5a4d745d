/**
 * MNIST and Fashion-MNIST: four IDX files per dataset (train/t10k images and labels), gzipped or
 * not, named either `train-images-idx3-ubyte[.gz]` (upstream) or `train-images.idx3-ubyte`.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Dataset } from './types.js';
import { DatasetNotFoundError } from './errors.js';
import { readIdxSplit } from './idx.js';

/** Fashion-MNIST class names, in label order. */
export const FASHION_MNIST_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'] as const;
/** MNIST class names (the digits), in label order. */
export const MNIST_CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] as const;

/** Finds `<prefix>-<kind>-ubyte` in any accepted spelling; undefined when absent. */
export function findIdxFile(dir: string, prefix: 'train' | 't10k', kind: 'images-idx3' | 'labels-idx1'): string | undefined {
  const [what, idx] = kind.split('-') as [string, string];
  for (const base of [`${prefix}-${what}-${idx}-ubyte`, `${prefix}-${what}.${idx}-ubyte`]) {
    for (const ext of ['.gz', '']) {
      const file = join(dir, base + ext);
      if (existsSync(file)) return file;
    }
  }
  return undefined;
}

/** Reads the four IDX files in `dir`; throws DatasetNotFoundError if any is missing. */
export function readIdxDataset(dir: string, name: 'mnist' | 'fashion-mnist'): Dataset {
  const files = {
    trainImages: findIdxFile(dir, 'train', 'images-idx3'),
    trainLabels: findIdxFile(dir, 'train', 'labels-idx1'),
    testImages: findIdxFile(dir, 't10k', 'images-idx3'),
    testLabels: findIdxFile(dir, 't10k', 'labels-idx1'),
  };
  const missing = Object.entries(files).filter(([, f]) => f === undefined).map(([k]) => k);
  if (missing.length > 0) throw new DatasetNotFoundError(`${name}: ${dir} lacks the IDX files for ${missing.join(', ')}`);
  const train = readIdxSplit(files.trainImages!, files.trainLabels!, 10);
  const test = readIdxSplit(files.testImages!, files.testLabels!, 10);
  if (train.imageShape.join() !== test.imageShape.join()) {
    throw new DatasetNotFoundError(`${name}: train images are ${train.imageShape.join('x')} but test images are ${test.imageShape.join('x')}`);
  }
  return {
    name,
    imageShape: train.imageShape,
    numClasses: 10,
    classNames: name === 'mnist' ? MNIST_CLASSES : FASHION_MNIST_CLASSES,
    train,
    test,
    source: dir,
  };
}
