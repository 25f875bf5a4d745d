/**
 * `jatp data download <name>` and `jatp data info <name>`: fetch a dataset into the cache folder,
 * and report what a dataset holds (counts per split and class, files and checksums, where it was
 * found). Neither does tensor work, so neither initialises a compute backend.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Command } from 'commander';
import { DATASET_NAMES, DATASETS, canonicalName, classCounts, loadDataset, downloadDataset, OfflineError, type Dataset, type DownloadedFile } from '../index.js';
// The readers' file layouts, only for the file list of `jatp data info` (not part of the public API).
import { CIFAR10_TRAIN_BATCHES, CIFAR10_TEST_BATCH } from '../data/cifar10.js';
import { findIdxFile } from '../data/mnist.js';
import { SVHN_FILES } from '../data/svhn.js';

export interface FileReport {
  readonly file: string;
  readonly bytes: number;
  readonly md5: string;
  readonly sha256: string;
  /** SHA-256 of the decompressed bytes, for gzip files. */
  readonly sha256Decompressed?: string;
  /**
   * 'official' = matches a published checksum; 'mismatch' = differs from it; 'sha256sums' /
   * 'sha256sums-mismatch' = compared with a SHA256SUMS file beside it; 'unpublished' = nothing to compare.
   */
  readonly check: 'official' | 'mismatch' | 'sha256sums' | 'sha256sums-mismatch' | 'unpublished';
}

export interface InfoReport {
  readonly name: string;
  readonly source: string;
  readonly imageShape: readonly number[];
  readonly numClasses: number;
  readonly classNames: readonly string[];
  readonly train: { readonly count: number; readonly perClass: number[] };
  readonly test: { readonly count: number; readonly perClass: number[] };
  readonly files: FileReport[];
}

/** The files a loaded dataset was read from (best effort; image folders list none). */
function sourceFiles(ds: Dataset): string[] {
  const src = ds.source;
  if (existsSync(src) && statSync(src).isFile()) return [src];
  switch (ds.name) {
    case 'mnist':
    case 'fashion-mnist':
      return (['train', 't10k'] as const).flatMap((p) => (['images-idx3', 'labels-idx1'] as const).map((k) => findIdxFile(src, p, k))).filter((f): f is string => f !== undefined);
    case 'cifar10':
      return [...CIFAR10_TRAIN_BATCHES, CIFAR10_TEST_BATCH].flatMap((b) => [`${b}.bin`, `${b}.bin.br`].map((f) => join(src, f))).filter((f) => existsSync(f));
    case 'svhn':
      return [SVHN_FILES.train, SVHN_FILES.test].map((f) => join(src, f));
    default:
      return [];
  }
}

function digestFile(file: string, datasetName: string): FileReport {
  const bytes = readFileSync(file);
  const md5 = createHash('md5').update(bytes).digest('hex');
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const gz = bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b && !file.endsWith('.tar.gz');
  const sha256Decompressed = gz ? createHash('sha256').update(gunzipSync(bytes)).digest('hex') : undefined;
  const spec = DATASETS[datasetName]?.files.find((f) => f.file === basename(file) || f.file === `${basename(file)}.gz`);
  let check: FileReport['check'] = 'unpublished';
  if (spec) {
    if (spec.md5 === md5) check = 'official';
    else if (spec.sha256Decompressed !== undefined) {
      // A local copy may be recompressed (Debian) or not compressed at all: compare the payload.
      const payload = sha256Decompressed ?? sha256;
      check = payload === spec.sha256Decompressed ? 'official' : 'mismatch';
    } else if (spec.md5 !== undefined && spec.file === basename(file)) check = 'mismatch';
  }
  if (check === 'unpublished') {
    // Copies such as shared/data ship a `sha256sum -c` list beside the files.
    const sums = join(dirname(file), 'SHA256SUMS');
    if (existsSync(sums)) {
      const line = readFileSync(sums, 'utf8').split('\n').map((l) => l.trim().split(/\s+\*?/)).find((parts) => parts[1] === basename(file));
      if (line) check = line[0] === sha256 ? 'sha256sums' : 'sha256sums-mismatch';
    }
  }
  return { file, bytes: bytes.length, md5, sha256, ...(sha256Decompressed ? { sha256Decompressed } : {}), check };
}

export interface InfoOptions {
  readonly dataDir?: string;
  /** Skip hashing the files (default false). */
  readonly noChecksums?: boolean;
}

/** `jatp data info`: loads the dataset and reports counts, classes, files and checksums. */
export async function dataInfo(name: string, opts: InfoOptions = {}): Promise<InfoReport> {
  const ds = await loadDataset(name, opts.dataDir !== undefined ? { dataDir: opts.dataDir } : {});
  const files = opts.noChecksums ? [] : sourceFiles(ds).map((f) => digestFile(f, ds.name));
  return {
    name: ds.name,
    source: ds.source,
    imageShape: ds.imageShape,
    numClasses: ds.numClasses,
    classNames: ds.classNames,
    train: { count: ds.train.count, perClass: classCounts(ds.train, ds.numClasses) },
    test: { count: ds.test.count, perClass: classCounts(ds.test, ds.numClasses) },
    files,
  };
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')).join('\n');
}

const fmt = (n: number): string => n.toLocaleString('en-US');

const CHECK_TEXT: Record<FileReport['check'], string> = {
  official: 'matches the published checksum',
  mismatch: 'DIFFERS from the published checksum',
  sha256sums: 'matches the SHA256SUMS beside it',
  'sha256sums-mismatch': 'DIFFERS from the SHA256SUMS beside it',
  unpublished: 'no published checksum',
};

export function formatInfo(r: InfoReport): string {
  const lines = [
    `dataset   ${r.name}`,
    `source    ${r.source}`,
    `images    ${r.imageShape.join('x')}, ${r.numClasses} classes`,
    `train     ${fmt(r.train.count)}`,
    `test      ${fmt(r.test.count)}`,
    '',
    table([['class', 'train', 'test'], ...r.classNames.map((c, i) => [`${i} ${c}`, fmt(r.train.perClass[i]!), fmt(r.test.perClass[i]!)])]),
  ];
  if (r.files.length > 0) {
    lines.push('', 'files');
    for (const f of r.files) {
      lines.push(`  ${f.file}  (${fmt(f.bytes)} bytes, ${CHECK_TEXT[f.check]})`);
      lines.push(`    md5     ${f.md5}`);
      lines.push(`    sha256  ${f.sha256}`);
      if (f.sha256Decompressed) lines.push(`    sha256 of decompressed bytes  ${f.sha256Decompressed}`);
    }
  }
  return lines.join('\n');
}

export interface DownloadCliOptions {
  readonly dataDir?: string;
  readonly mirror?: string;
  readonly extra?: boolean;
}

/**
 * `jatp data download`: downloads and verifies the files (md5), then reads the dataset once so that a
 * structurally wrong file is reported now rather than at training time; returns files and counts.
 */
export async function dataDownload(
  name: string,
  opts: DownloadCliOptions = {},
  progress: (m: string) => void = (m) => process.stderr.write(`${m}\n`),
): Promise<{ dir: string; files: DownloadedFile[]; train: number; test: number }> {
  const result = await downloadDataset(name, { ...opts, onProgress: progress });
  progress(`reading ${result.dir} to check the format ...`);
  const ds = await loadDataset(name, { dataDir: result.dir });
  return { ...result, train: ds.train.count, test: ds.test.count };
}

function fail(err: unknown): void {
  const e = err as Error;
  process.stderr.write(`jatp data: ${e instanceof OfflineError ? 'offline: ' : ''}${e.message}\n`);
  process.exitCode = 1;
}

export function register(program: Command): void {
  const data = program.command('data').description('datasets: download the official files, show what a dataset holds');
  const names = `${DATASET_NAMES.join(' | ')} | folder:<path>`;

  data
    .command('info')
    .description('counts per split and class, files and checksums, and where the dataset was found')
    .argument('<dataset>', names)
    .option('--data-dir <dir>', 'read the dataset from this folder (cifar10: also the tar.gz) instead of the default locations')
    .option('--no-checksums', 'skip hashing the files')
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExamples:\n  jatp data info fashion-mnist\n  jatp data info cifar10 --data-dir ../shared/data/cifar-10-jpeg-batches-bin --json')
    .action(async (dataset: string, o: { dataDir?: string; checksums: boolean; json?: boolean }) => {
      try {
        canonicalName(dataset);
        const report = await dataInfo(dataset, { ...(o.dataDir !== undefined ? { dataDir: o.dataDir } : {}), noChecksums: !o.checksums });
        process.stdout.write(`${o.json ? JSON.stringify(report, null, 2) : formatInfo(report)}\n`);
      } catch (err) {
        fail(err);
      }
    });

  data
    .command('download')
    .description('download the official files (checksum-verified, resumable, atomic) into the cache folder')
    .argument('<dataset>', DATASET_NAMES.join(' | '))
    .option('--data-dir <dir>', 'download into this folder instead of the cache ($JATP_CACHE_DIR or $XDG_CACHE_HOME/jatp/datasets/<name>)')
    .option('--mirror <url>', 'fetch <url>/<file name> instead of the official URLs (same checksums)')
    .option('--extra', 'svhn: also download extra_32x32.mat (531,131 images, 1.3 GB)')
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nAn interrupted download resumes when the same command is run again.\nExample:\n  jatp data download cifar10')
    .action(async (dataset: string, o: { dataDir?: string; mirror?: string; extra?: boolean; json?: boolean }) => {
      try {
        const result = await dataDownload(dataset, {
          ...(o.dataDir !== undefined ? { dataDir: o.dataDir } : {}),
          ...(o.mirror !== undefined ? { mirror: o.mirror } : {}),
          ...(o.extra ? { extra: true } : {}),
        });
        if (o.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
        else {
          process.stdout.write(`${result.dir}\n`);
          for (const f of result.files) process.stdout.write(`  ${basename(f.file)}  ${fmt(f.bytes)} bytes  md5 ${f.md5}${f.verified ? ' (verified)' : ' (no published checksum)'}\n`);
          process.stdout.write(`  readable: ${fmt(result.train)} train / ${fmt(result.test)} test images\n`);
        }
      } catch (err) {
        fail(err);
      }
    });
}

