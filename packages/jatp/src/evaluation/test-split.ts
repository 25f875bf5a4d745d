/**
 * Only the test split of a dataset, for evaluation: `jatp eval` never looks at training images, so
 * a damaged or missing train file must not stop it. The IDX datasets, a CIFAR-10 batch
 * folder and SVHN have a test file of their own, read alone; other layouts (the CIFAR-10 tar.gz, an
 * image folder, whose class names come from train/) go through the full reader.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Split } from '../data/types.js';
import { DatasetNotFoundError } from '../data/errors.js';
import { canonicalName, loadDataset, searchDirs, type LoadOptions } from '../data/load-dataset.js';
import { findIdxFile } from '../data/mnist.js';
import { readIdxSplit } from '../data/idx.js';
import { CIFAR10_TEST_BATCH, parseCifarRecords } from '../data/cifar10.js';
import { readMaybeCompressed } from '../data/io.js';
import { SVHN_FILES, readSvhnFile } from '../data/svhn.js';

/** What `loadTestSplit` returns: the dataset's canonical name, its test split and where it was read from. */
export interface TestSplit {
  readonly name: string;
  readonly test: Split;
  /** Classes of the dataset (10 for the built-in ones; a folder's class folders). */
  readonly numClasses: number;
  readonly source: string;
}

/** The test file(s) of `name` in `dir` read alone, or undefined when `dir` does not hold them. */
function readTestAt(name: string, dir: string): Split | undefined {
  switch (name) {
    case 'mnist':
    case 'fashion-mnist': {
      const images = findIdxFile(dir, 't10k', 'images-idx3');
      const labels = findIdxFile(dir, 't10k', 'labels-idx1');
      return images && labels ? readIdxSplit(images, labels, 10) : undefined;
    }
    case 'cifar10': {
      for (const candidate of [`${CIFAR10_TEST_BATCH}.bin`, `${CIFAR10_TEST_BATCH}.bin.br`]) {
        const file = join(dir, candidate);
        if (existsSync(file)) return { ...parseCifarRecords(readMaybeCompressed(file), file), imageShape: [32, 32, 3] };
      }
      return undefined;
    }
    case 'svhn': {
      const file = join(dir, SVHN_FILES.test);
      return existsSync(file) ? readSvhnFile(file) : undefined;
    }
    default:
      return undefined;
  }
}

/** The test split of a dataset, reading its test files only where the layout allows. */
export async function loadTestSplit(name: string, opts: LoadOptions = {}): Promise<TestSplit> {
  const canonical = canonicalName(name);
  if (!canonical.startsWith('folder:')) {
    for (const dir of searchDirs(canonical, opts)) {
      if (!existsSync(dir)) continue;
      let test: Split | undefined;
      try {
        test = readTestAt(canonical, dir);
      } catch (err) {
        if (!(err instanceof DatasetNotFoundError)) throw err;
      }
      if (test) return { name: canonical, test, source: dir, numClasses: 10 };
    }
  }
  const dataset = await loadDataset(name, opts);
  return { name: dataset.name, test: dataset.test, source: dataset.source, numClasses: dataset.numClasses };
}
