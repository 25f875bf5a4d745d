/**
 * What we know about each named dataset: where its official files live, their published checksums,
 * the file layout the readers expect, and the default places to look for a local copy.
 * One place for every URL and checksum, shared by the loader, `jatp data download` and `jatp data info`.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

/** One file of a dataset's official download (URL, name, checksum). */
export interface RemoteFile {
  /** File name in the dataset folder. */
  readonly file: string;
  readonly url: string;
  /** MD5 of the file as downloaded, as published by the dataset page; undefined when unknown. */
  readonly md5?: string;
  /**
   * SHA-256 of the decompressed bytes (gzip files only). Checked for local copies whose compressed
   * bytes may differ from upstream (Debian recompressed Fashion-MNIST).
   */
  readonly sha256Decompressed?: string;
  /** Unpack this tar.gz into the dataset folder after verifying it. */
  readonly extract?: boolean;
}

/** A known dataset: its files, image shape, classes and reader. */
export interface DatasetSpec {
  readonly name: string;
  readonly files: readonly RemoteFile[];
  /** Folders searched, in order, when no --data-dir is given (the cache folder comes last). */
  readonly systemDirs: readonly string[];
  /** One line for users on what the folder must contain. */
  readonly layout: string;
}

const FASHION_BASE = 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/';
// torchvision's MNIST mirror (yann.lecun.com no longer serves the files reliably); same bytes, same md5.
const MNIST_BASE = 'https://ossci-datasets.s3.amazonaws.com/mnist/';
const SVHN_BASE = 'http://ufldl.stanford.edu/housenumbers/';

/** The datasets `loadDataset` and `jatp data download` know (cifar10, svhn, mnist, fashion-mnist). */
export const DATASETS: Readonly<Record<string, DatasetSpec>> = {
  'fashion-mnist': {
    name: 'fashion-mnist',
    systemDirs: ['/usr/share/datasets/fashion-mnist'],
    layout: 'train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz (gzipped or not)',
    files: [
      // md5: the upstream README's; sha256Decompressed: measured on Debian's dataset-fashion-mnist,
      // whose decompressed bytes are identical to upstream (shared/data/README.md).
      { file: 'train-images-idx3-ubyte.gz', url: `${FASHION_BASE}train-images-idx3-ubyte.gz`, md5: '8d4fb7e6c68d591d4c3dfef9ec88bf0d', sha256Decompressed: 'c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888' },
      { file: 'train-labels-idx1-ubyte.gz', url: `${FASHION_BASE}train-labels-idx1-ubyte.gz`, md5: '25c81989df183df01b3e8a0aad5dffbe', sha256Decompressed: 'bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9' },
      { file: 't10k-images-idx3-ubyte.gz', url: `${FASHION_BASE}t10k-images-idx3-ubyte.gz`, md5: 'bef4ecab320f06d8554ea6380940ec79', sha256Decompressed: '5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b' },
      { file: 't10k-labels-idx1-ubyte.gz', url: `${FASHION_BASE}t10k-labels-idx1-ubyte.gz`, md5: 'bb300cfdad3c16e7a12a480ee83cd310', sha256Decompressed: '0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34' },
    ],
  },
  mnist: {
    name: 'mnist',
    systemDirs: [],
    layout: 'train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz (gzipped or not)',
    files: [
      { file: 'train-images-idx3-ubyte.gz', url: `${MNIST_BASE}train-images-idx3-ubyte.gz`, md5: 'f68b3c2dcbeaaa9fbdd348bbdeb94873' },
      { file: 'train-labels-idx1-ubyte.gz', url: `${MNIST_BASE}train-labels-idx1-ubyte.gz`, md5: 'd53e105ee54ea40749a09fcbcd1e9432' },
      { file: 't10k-images-idx3-ubyte.gz', url: `${MNIST_BASE}t10k-images-idx3-ubyte.gz`, md5: '9fb629c4189551a2d022fa330f9573f3' },
      { file: 't10k-labels-idx1-ubyte.gz', url: `${MNIST_BASE}t10k-labels-idx1-ubyte.gz`, md5: 'ec29112dd5afa0611ce80d1b7f02629c' },
    ],
  },
  cifar10: {
    name: 'cifar10',
    systemDirs: [],
    layout: 'cifar-10-batches-bin/ (data_batch_1..5.bin, test_batch.bin; .bin.br accepted) or cifar-10-binary.tar.gz',
    files: [{ file: 'cifar-10-binary.tar.gz', url: 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz', md5: 'c32a1d4ab5d03f1284b67883e8d87530', extract: true }],
  },
  svhn: {
    name: 'svhn',
    systemDirs: [],
    layout: 'train_32x32.mat and test_32x32.mat (extra_32x32.mat optional, unused)',
    files: [
      { file: 'train_32x32.mat', url: `${SVHN_BASE}train_32x32.mat`, md5: 'e26dedcc434d2e4c54c9b2d4a06d8373' },
      { file: 'test_32x32.mat', url: `${SVHN_BASE}test_32x32.mat`, md5: 'eb5a983be6a315427106f1b164d9cef3' },
    ],
  },
};

/** The optional SVHN extra split (531,131 images); downloaded only on request. */
export const SVHN_EXTRA: RemoteFile = { file: 'extra_32x32.mat', url: `${SVHN_BASE}extra_32x32.mat`, md5: 'a93ce644f1a588dc4d68dda5feec44a7' };

/** The dataset names `loadDataset` accepts besides `folder:<path>`. */
export const DATASET_NAMES = Object.keys(DATASETS);

/**
 * Root of downloaded datasets: $JATP_CACHE_DIR, else $XDG_CACHE_HOME/jatp, else ~/.cache/jatp;
 * each dataset lives in `<root>/datasets/<name>/`.
 */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.JATP_CACHE_DIR) return env.JATP_CACHE_DIR;
  const xdg = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME.length > 0 ? env.XDG_CACHE_HOME : join(homedir(), '.cache');
  return join(xdg, 'jatp');
}

/** The cache folder of a dataset (`$JATP_DATA_DIR` or ~/.cache/jatp/<name>). */
export function datasetCacheDir(name: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(cacheRoot(env), 'datasets', name);
}

export function getSpec(name: string): DatasetSpec {
  const spec = DATASETS[name];
  if (!spec) throw new Error(`unknown dataset "${name}": expected one of ${DATASET_NAMES.join(', ')} or folder:<path>`);
  return spec;
}
