/**
 * `loadDataset(name)`: finds a dataset's files (the --data-dir given, else the system location,
 * else the cache folder), reads them with the matching reader, and explains what to put where
 * when nothing is found.
 */
import { existsSync } from 'node:fs';
import type { Dataset } from './types.js';
import { DatasetNotFoundError } from './errors.js';
import { readCifar10 } from './cifar10.js';
import { readIdxDataset } from './mnist.js';
import { readSvhn } from './svhn.js';
import { readImageFolder } from './folder.js';
import { DATASET_NAMES, datasetCacheDir, getSpec } from './known-datasets.js';

/** Options of `loadDataset` (default: the standard search locations, see `searchDirs`). */
export interface LoadOptions {
  /** Folder (or, for cifar10, the tar.gz) to read instead of the default locations. */
  readonly dataDir?: string;
}

const ALIASES: Record<string, string> = { 'cifar-10': 'cifar10', fashion_mnist: 'fashion-mnist', fashionmnist: 'fashion-mnist' };

/** Canonical dataset name ('cifar-10' -> 'cifar10'); `folder:<path>` is returned unchanged. */
export function canonicalName(name: string): string {
  if (name.startsWith('folder:')) return name;
  const lower = name.toLowerCase();
  const canonical = ALIASES[lower] ?? lower;
  if (!DATASET_NAMES.includes(canonical)) {
    throw new Error(`unknown dataset "${name}": expected one of ${DATASET_NAMES.join(', ')} or folder:<path>`);
  }
  return canonical;
}

/** Folders that are searched for `name`, in order. */
export function searchDirs(name: string, opts: LoadOptions = {}): string[] {
  const canonical = canonicalName(name);
  if (opts.dataDir !== undefined) return [opts.dataDir];
  return [...getSpec(canonical).systemDirs, datasetCacheDir(canonical)];
}

function readAt(name: string, dir: string): Dataset {
  switch (name) {
    case 'fashion-mnist':
    case 'mnist':
      return readIdxDataset(dir, name);
    case 'cifar10':
      return readCifar10(dir);
    case 'svhn':
      return readSvhn(dir);
    default:
      throw new Error(`unknown dataset "${name}"`);
  }
}

/**
 * Loads a dataset by name: 'fashion-mnist' | 'mnist' | 'cifar10' | 'svhn' | 'folder:<path>'.
 * Damaged files raise DataFormatError (naming the file); missing ones DatasetNotFoundError with
 * the folders searched and the files expected.
 */
export async function loadDataset(name: string, opts: LoadOptions = {}): Promise<Dataset> {
  const canonical = canonicalName(name);
  if (canonical.startsWith('folder:')) return readImageFolder(opts.dataDir ?? canonical.slice('folder:'.length));
  const dirs = searchDirs(canonical, opts);
  const reasons: string[] = [];
  for (const dir of dirs) {
    if (!existsSync(dir)) {
      reasons.push(`${dir} (does not exist)`);
      continue;
    }
    try {
      return readAt(canonical, dir);
    } catch (err) {
      if (!(err instanceof DatasetNotFoundError)) throw err;
      reasons.push(`${dir} (${err.message})`);
    }
  }
  const spec = getSpec(canonical);
  throw new DatasetNotFoundError(
    `${canonical}: dataset not found. Looked in: ${reasons.join('; ')}. ` +
      `Put ${spec.layout} into ${datasetCacheDir(canonical)} (or pass --data-dir <folder>), ` +
      `or run \`jatp data download ${canonical}\` on a machine with internet access.`,
  );
}
