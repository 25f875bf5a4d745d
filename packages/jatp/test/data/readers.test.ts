import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync, brotliCompressSync, gunzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import * as tar from 'tar';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { loadDataset, DataFormatError, DatasetNotFoundError, parseCifarRecords, parseSvhnMat, parseIdx, stratifiedSubset, firstPerClass, firstN, classCounts, DATASETS } from '../../src/data/index.js';
import { idxBytes, cifarRecords, matFile, svhnVars, randomBytes, syntheticSplit } from './helpers.js';
import { checkSha256Sums, decompressedFrom, sharedFolder } from './shared-data.js';

const tmp = mkdtempSync(join(tmpdir(), 'jatp-data-readers-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
let dirCount = 0;
function freshDir(): string {
  const d = join(tmp, `d${dirCount++}`);
  mkdirSync(d, { recursive: true });
  return d;
}

// ---------------------------------------------------------------- IDX (MNIST / Fashion-MNIST)

function writeIdxSet(dir: string, n: number, gz: boolean, opts: { labels?: Uint8Array; labelCount?: number } = {}): { images: Uint8Array; labels: Uint8Array } {
  const images = randomBytes(n * 28 * 28, n);
  const labels = opts.labels ?? Uint8Array.from({ length: n }, (_, i) => (i * 7) % 10);
  const enc = (b: Uint8Array): Uint8Array => (gz ? gzipSync(b) : b);
  const ext = gz ? '.gz' : '';
  for (const prefix of ['train', 't10k']) {
    writeFileSync(join(dir, `${prefix}-images-idx3-ubyte${ext}`), enc(idxBytes([n, 28, 28], images)));
    writeFileSync(join(dir, `${prefix}-labels-idx1-ubyte${ext}`), enc(idxBytes([opts.labelCount ?? n], labels.subarray(0, opts.labelCount ?? n))));
  }
  return { images, labels };
}

test('IDX reader: gzipped and plain files give the written pixels and labels as 28x28x1', async () => {
  for (const gz of [true, false]) {
    const dir = freshDir();
    const { images, labels } = writeIdxSet(dir, 12, gz);
    const ds = await loadDataset('mnist', { dataDir: dir });
    assert.deepEqual(ds.imageShape, [28, 28, 1]);
    assert.equal(ds.train.count, 12);
    assert.equal(ds.test.count, 12);
    assert.deepEqual(Buffer.from(ds.train.images), Buffer.from(images));
    assert.deepEqual(Array.from(ds.test.labels), Array.from(labels));
    assert.equal(ds.source, dir);
  }
});

test('IDX reader errors name the file: wrong magic, truncated, trailing bytes, label range, count mismatch', async () => {
  const good = idxBytes([2, 28, 28], new Uint8Array(2 * 784));
  const bad = Uint8Array.from(good);
  bad[0] = 1;
  assert.throws(() => parseIdx(bad, 'f.idx'), (e: unknown) => e instanceof DataFormatError && /f\.idx: wrong IDX magic/.test(e.message));
  const ints = Uint8Array.from(good);
  ints[2] = 0x0c;
  assert.throws(() => parseIdx(ints, 'f.idx'), /element type 0x0c/);
  assert.throws(() => parseIdx(good.subarray(0, good.length - 1), 'f.idx'), /f\.idx: truncated/);
  assert.throws(() => parseIdx(Buffer.concat([good, Buffer.of(0)]), 'f.idx'), /trailing bytes/);

  const dir = freshDir();
  writeIdxSet(dir, 5, true, { labels: Uint8Array.of(1, 2, 10, 3, 4) });
  await assert.rejects(loadDataset('fashion-mnist', { dataDir: dir }), (e: unknown) => e instanceof DataFormatError && /labels-idx1-ubyte\.gz: label 10 at index 2 is out of range 0\.\.9/.test(e.message));
  const dir2 = freshDir();
  writeIdxSet(dir2, 5, false, { labelCount: 4 });
  await assert.rejects(loadDataset('mnist', { dataDir: dir2 }), /has 4 labels but .*images-idx3-ubyte has 5 images/);
  const dir3 = freshDir();
  writeIdxSet(dir3, 3, true);
  const f = join(dir3, 'train-images-idx3-ubyte.gz');
  writeFileSync(f, readFileSync(f).subarray(0, 40));
  await assert.rejects(loadDataset('mnist', { dataDir: dir3 }), (e: unknown) => e instanceof DataFormatError && e.file === f && /gzip/.test(e.message));
});

const FASHION = '/usr/share/datasets/fashion-mnist';
// bootstrap.sh installs the package, so under CI=true its absence fails here instead of skipping.
test('Fashion-MNIST from the Debian package: 60,000 / 10,000 images, 10 classes, upstream checksums', { skip: existsSync(FASHION) || process.env.CI === 'true' ? false : `${FASHION} absent (apt-get install dataset-fashion-mnist)` }, async () => {
  const ds = await loadDataset('fashion-mnist');
  assert.equal(ds.source, FASHION);
  assert.equal(ds.train.count, 60000);
  assert.equal(ds.test.count, 10000);
  assert.deepEqual(classCounts(ds.train, 10), new Array(10).fill(6000));
  assert.deepEqual(classCounts(ds.test, 10), new Array(10).fill(1000));
  // Prefixes of the decompressed-bytes checksums published in shared/data/README.md (its abbreviated
  // suffix for t10k-labels, "0c38c34", disagrees with the file's "ec38c34"; the prefixes all agree).
  const readme: Record<string, string> = {
    'train-images-idx3-ubyte.gz': 'c59f468a',
    'train-labels-idx1-ubyte.gz': 'bad3541b',
    't10k-images-idx3-ubyte.gz': '5b4141f0',
    't10k-labels-idx1-ubyte.gz': '0402a96d',
  };
  for (const spec of DATASETS['fashion-mnist']!.files) {
    const sha = createHash('sha256').update(gunzipSync(readFileSync(join(FASHION, spec.file)))).digest('hex');
    assert.equal(sha, spec.sha256Decompressed);
    assert.ok(sha.startsWith(readme[spec.file]!), spec.file);
  }
});

// ---------------------------------------------------------------- CIFAR-10

function cifarSplit(n: number, seed: number): { images: Uint8Array; labels: number[] } {
  return { images: randomBytes(n * 3072, seed), labels: Array.from({ length: n }, (_, i) => (i * 3 + seed) % 10) };
}

function writeCifarFolder(dir: string, compressTrain: boolean): { train: ReturnType<typeof cifarSplit>[]; test: ReturnType<typeof cifarSplit> } {
  mkdirSync(dir, { recursive: true });
  const train = [1, 2, 3, 4, 5].map((b) => cifarSplit(2 + b, b));
  train.forEach((s, i) => {
    const rec = cifarRecords(s.images, s.labels);
    if (compressTrain) writeFileSync(join(dir, `data_batch_${i + 1}.bin.br`), brotliCompressSync(rec));
    else writeFileSync(join(dir, `data_batch_${i + 1}.bin`), rec);
  });
  const test = cifarSplit(4, 9);
  writeFileSync(join(dir, 'test_batch.bin'), cifarRecords(test.images, test.labels));
  return { train, test };
}

async function checkCifar(location: string, written: ReturnType<typeof writeCifarFolder>): Promise<void> {
  const ds = await loadDataset('cifar10', { dataDir: location });
  assert.deepEqual(ds.imageShape, [32, 32, 3]);
  assert.equal(ds.train.count, 3 + 4 + 5 + 6 + 7);
  assert.deepEqual(Buffer.from(ds.train.images), Buffer.concat(written.train.map((s) => s.images)));
  assert.deepEqual(Array.from(ds.train.labels), written.train.flatMap((s) => s.labels));
  assert.deepEqual(Buffer.from(ds.test.images), Buffer.from(written.test.images));
  assert.deepEqual(Array.from(ds.test.labels), written.test.labels);
  assert.equal(ds.classNames[3], 'cat');
}

test('CIFAR-10 reader: batches folder (plain and .bin.br), parent folder, and the official tar.gz', async () => {
  const root = freshDir();
  const plain = writeCifarFolder(join(root, 'cifar-10-batches-bin'), false);
  await checkCifar(join(root, 'cifar-10-batches-bin'), plain);
  await checkCifar(root, plain);
  const archive = join(freshDir(), 'cifar-10-binary.tar.gz');
  await tar.c({ gzip: true, file: archive, cwd: root }, ['cifar-10-batches-bin']);
  await checkCifar(archive, plain);
  await checkCifar(join(archive, '..'), plain);
  const br = freshDir();
  await checkCifar(br, writeCifarFolder(br, true));
});

test('CIFAR-10 reader errors: wrong record size, label out of range, missing batch, corrupt Brotli', async () => {
  const rec = cifarRecords(randomBytes(3072 * 2, 1), [1, 2]);
  assert.throws(() => parseCifarRecords(rec.subarray(0, rec.length - 5), 'b.bin'), (e: unknown) => e instanceof DataFormatError && /b\.bin: size 6141 bytes is not a positive multiple of the 3073-byte/.test(e.message));
  const badLabel = Uint8Array.from(rec);
  badLabel[3073] = 10;
  assert.throws(() => parseCifarRecords(badLabel, 'b.bin'), /b\.bin: record 1: label byte 10 is out of range 0\.\.9/);
  const dir = freshDir();
  writeCifarFolder(dir, false);
  rmSync(join(dir, 'data_batch_4.bin'));
  await assert.rejects(loadDataset('cifar10', { dataDir: dir }), /missing data_batch_4\.bin/);
  const dir2 = freshDir();
  writeCifarFolder(dir2, true);
  writeFileSync(join(dir2, 'data_batch_2.bin.br'), Buffer.from('not brotli at all, definitely'));
  await assert.rejects(loadDataset('cifar10', { dataDir: dir2 }), (e: unknown) => e instanceof DataFormatError && /data_batch_2\.bin\.br/.test(e.message));
});

const EXACT_DIR = sharedFolder('cifar-10-exact-samples');
const EXACT = join(EXACT_DIR.dir, 'test_batch_first20.bin');
test('CIFAR-10 exact official test records 0-19: checksums, labels and the cat image red row', { skip: EXACT_DIR.skip }, () => {
  assert.deepEqual(checkSha256Sums(EXACT_DIR.dir), []);
  const split = parseCifarRecords(readFileSync(EXACT), EXACT);
  assert.deepEqual(Array.from(split.labels), [3, 8, 8, 0, 6, 6, 1, 6, 3, 1, 0, 9, 5, 7, 9, 8, 5, 7, 8, 6]);
  const red = [158, 159, 165, 166, 160, 156, 162, 159, 158, 159, 161, 160, 161, 166, 169, 170, 167, 162];
  assert.deepEqual(red.map((_, col) => split.images[col * 3]), red);
});

const SHARED = sharedFolder('cifar-10-jpeg-batches-bin');
const SHARED_CIFAR = SHARED.dir;
test('CIFAR-10 shared copy: its files match SHA256SUMS, and decompressed SHA256SUMS.decompressed', { skip: SHARED.skip }, () => {
  assert.deepEqual(checkSha256Sums(SHARED_CIFAR), []);
  assert.deepEqual(checkSha256Sums(SHARED_CIFAR, 'SHA256SUMS.decompressed', decompressedFrom(SHARED_CIFAR)), []);
});

test('CIFAR-10 shared copy (.bin.br train batches): 50,000 / 10,000 in the official order', { skip: SHARED.skip }, async () => {
  const ds = await loadDataset('cifar10', { dataDir: SHARED_CIFAR });
  assert.equal(ds.train.count, 50000);
  assert.equal(ds.test.count, 10000);
  assert.deepEqual(Array.from(ds.train.labels.subarray(0, 10)), [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]);
  assert.deepEqual(Array.from(ds.test.labels.subarray(0, 10)), [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]);
  assert.deepEqual(classCounts(ds.test, 10), new Array(10).fill(1000));
  assert.deepEqual(classCounts(ds.train, 10), new Array(10).fill(5000));
  assert.deepEqual(ds.classNames, ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']);
});

// ---------------------------------------------------------------- SVHN (.mat)

test('SVHN reader: column-major X becomes NHWC, label 10 becomes 0; compressed and plain, uint8 and double y', async () => {
  const n = 5;
  const images = randomBytes(n * 3072, 77);
  const digits = [0, 3, 9, 0, 1];
  for (const [compress, yStorage] of [[true, 9], [false, 2], [true, 2]] as const) {
    const split = parseSvhnMat(matFile(svhnVars(images, digits, yStorage), compress), 'x.mat');
    assert.equal(split.count, n);
    assert.deepEqual(Buffer.from(split.images), Buffer.from(images));
    assert.deepEqual(Array.from(split.labels), digits);
  }
  const dir = freshDir();
  writeFileSync(join(dir, 'train_32x32.mat'), matFile(svhnVars(images, digits)));
  writeFileSync(join(dir, 'test_32x32.mat'), matFile(svhnVars(images.subarray(0, 2 * 3072), [7, 0])));
  const ds = await loadDataset('svhn', { dataDir: dir });
  assert.equal(ds.train.count, 5);
  assert.deepEqual(Array.from(ds.test.labels), [7, 0]);
  assert.deepEqual(ds.imageShape, [32, 32, 3]);
});

test('SVHN reader errors: missing y, wrong dims, label out of range, count mismatch, v7.3, wrong magic, struct', () => {
  const images = randomBytes(2 * 3072, 5);
  const [X, y] = svhnVars(images, [1, 2]);
  assert.throws(() => parseSvhnMat(matFile([X!]), 's.mat'), (e: unknown) => e instanceof DataFormatError && /s\.mat: has no variable y/.test(e.message));
  assert.throws(() => parseSvhnMat(matFile([{ ...X!, dims: [32, 32, 6, 1] }, y!]), 's.mat'), /X has dims \[32x32x6x1\]/);
  assert.throws(() => parseSvhnMat(matFile([X!, { ...y!, values: [1, 11] }]), 's.mat'), /label y\(2\) = 11 is out of range 1\.\.10/);
  assert.throws(() => parseSvhnMat(matFile([X!, { ...y!, values: [1, 2, 3], dims: [3, 1] }]), 's.mat'), /y has dims \[3x1\] but X has 2 images/);
  const v73 = Buffer.alloc(512);
  v73.write('MATLAB 7.3 MAT-file, Platform: GLNXA64', 0, 'latin1');
  assert.throws(() => parseSvhnMat(v73, 's.mat'), /v7\.3 \(HDF5\)/);
  const bigEndian = matFile([X!, y!]);
  bigEndian.write('MI', 126, 'latin1');
  assert.throws(() => parseSvhnMat(bigEndian, 's.mat'), /s\.mat: is a big-endian MAT-file/);
  const wrong = matFile([X!, y!]);
  wrong.write('MATLAB 4', 0, 'latin1');
  assert.throws(() => parseSvhnMat(wrong, 's.mat'), /wrong magic/);
  assert.throws(() => parseSvhnMat(matFile([X!, { ...y!, mxClass: 2 }]), 's.mat'), /variable y has MATLAB class 2/);
  assert.throws(() => parseSvhnMat(matFile([X!, { ...y!, values: [1] }]), 's.mat'), /dims \[2x1\] need 16 bytes/);
});

// ---------------------------------------------------------------- image folders

test('image folder reader: PNG pixels exact, JPEG decoded, classes sorted, size mismatch named', async () => {
  const root = freshDir();
  const expected: { split: string; cls: string; rgb: Uint8Array }[] = [];
  let seed = 1;
  for (const split of ['train', 'test']) {
    for (const cls of ['dog', 'cat']) {
      mkdirSync(join(root, split, cls), { recursive: true });
      const png = new PNG({ width: 4, height: 3 });
      const rgba = randomBytes(4 * 3 * 4, seed++);
      Buffer.from(rgba).copy(png.data);
      writeFileSync(join(root, split, cls, 'a.png'), PNG.sync.write(png));
      expected.push({ split, cls, rgb: Uint8Array.from({ length: 36 }, (_, i) => rgba[Math.floor(i / 3) * 4 + (i % 3)]!) });
      const flat = jpeg.encode({ data: Buffer.alloc(4 * 3 * 4, 128), width: 4, height: 3 }, 95);
      writeFileSync(join(root, split, cls, 'b.jpg'), flat.data);
    }
  }
  const ds = await loadDataset(`folder:${root}`);
  assert.deepEqual(ds.classNames, ['cat', 'dog']);
  assert.deepEqual(ds.imageShape, [3, 4, 3]);
  assert.equal(ds.train.count, 4);
  assert.deepEqual(Array.from(ds.train.labels), [0, 0, 1, 1]);
  const catPng = expected.find((e) => e.split === 'train' && e.cls === 'cat')!.rgb;
  assert.deepEqual(Buffer.from(ds.train.images.subarray(0, 36)), Buffer.from(catPng));
  for (const v of ds.train.images.subarray(36, 72)) assert.ok(Math.abs(v - 128) <= 2, `flat grey JPEG decodes near 128, got ${v}`);
  const png = new PNG({ width: 5, height: 3 });
  writeFileSync(join(root, 'test', 'cat', 'c.png'), PNG.sync.write(png));
  await assert.rejects(loadDataset(`folder:${root}`), (e: unknown) => e instanceof DataFormatError && /c\.png: is 5x3, expected 4x3/.test(e.message));
});

// ---------------------------------------------------------------- lookup + subsets

test('without --data-dir, datasets are found in the cache folder ($JATP_CACHE_DIR/datasets/<name>)', async () => {
  const cache = freshDir();
  const saved = process.env.JATP_CACHE_DIR;
  process.env.JATP_CACHE_DIR = cache;
  try {
    mkdirSync(join(cache, 'datasets', 'mnist'), { recursive: true });
    writeIdxSet(join(cache, 'datasets', 'mnist'), 3, true);
    const ds = await loadDataset('MNIST');
    assert.equal(ds.source, join(cache, 'datasets', 'mnist'));
    assert.equal(ds.train.count, 3);
    await assert.rejects(loadDataset('cifar-10'), (e: unknown) => e instanceof DatasetNotFoundError && e.message.includes(join(cache, 'datasets', 'cifar10')));
  } finally {
    if (saved === undefined) delete process.env.JATP_CACHE_DIR;
    else process.env.JATP_CACHE_DIR = saved;
  }
});

test('a missing dataset says where it looked, which files to put where, and how to download', async () => {
  const dir = join(tmp, 'nothing-here');
  await assert.rejects(loadDataset('svhn', { dataDir: dir }), (e: unknown) => e instanceof DatasetNotFoundError && e.message.includes(dir) && /train_32x32\.mat/.test(e.message) && /jatp data download svhn/.test(e.message));
  await assert.rejects(loadDataset('imagenet'), /unknown dataset "imagenet"/);
});

test('stratifiedSubset takes perClass of each class, seeded; firstPerClass and firstN are prefix subsets', () => {
  const split = syntheticSplit(200, [2, 2, 1], 4);
  const a = stratifiedSubset(split, 7, 3);
  assert.deepEqual(classCounts(a, 4), [7, 7, 7, 7]);
  assert.deepEqual(stratifiedSubset(split, 7, 3), a);
  assert.notDeepEqual(Array.from(stratifiedSubset(split, 7, 4).images), Array.from(a.images));
  // Every chosen image is a real image of the split with its own label.
  const per = 4;
  for (let i = 0; i < a.count; i++) {
    const img = Buffer.from(a.images.subarray(i * per, (i + 1) * per)).toString('hex');
    const src = Array.from({ length: split.count }, (_, j) => j).find((j) => Buffer.from(split.images.subarray(j * per, (j + 1) * per)).toString('hex') === img)!;
    assert.equal(a.labels[i], split.labels[src]);
  }
  const f = firstPerClass(split, 2);
  assert.deepEqual(Array.from(f.labels), [0, 1, 2, 3, 0, 1, 2, 3]);
  assert.deepEqual(Buffer.from(f.images), Buffer.from(split.images.subarray(0, 8 * per)));
  assert.equal(firstN(split, 5).count, 5);
  assert.deepEqual(f.imageShape, [2, 2, 1]);
});

test('the shared-data checksum check names a changed file, a missing file and a missing list', () => {
  const dir = freshDir();
  writeFileSync(join(dir, 'a.bin'), 'alpha');
  writeFileSync(join(dir, 'b.bin'), 'beta');
  const sha = (t: string) => createHash('sha256').update(t).digest('hex');
  assert.match(checkSha256Sums(dir)[0]!, /SHA256SUMS is missing/);
  writeFileSync(join(dir, 'SHA256SUMS'), `${sha('alpha')}  a.bin\n${sha('beta')}  b.bin\n${sha('gamma')}  c.bin\n`);
  assert.deepEqual(checkSha256Sums(dir), [`${join(dir, 'c.bin')} is missing (listed in SHA256SUMS)`]);
  writeFileSync(join(dir, 'b.bin'), 'betA');
  writeFileSync(join(dir, 'c.bin'), 'gamma');
  const problems = checkSha256Sums(dir);
  assert.equal(problems.length, 1, problems.join('\n'));
  assert.match(problems[0]!, /b\.bin: sha256 [0-9a-f]{64}, SHA256SUMS says/);
  writeFileSync(join(dir, 'SHA256SUMS.decompressed'), `${sha('delta')}  d.bin\n`);
  writeFileSync(join(dir, 'd.bin.br'), brotliCompressSync(Buffer.from('delta')));
  assert.deepEqual(checkSha256Sums(dir, 'SHA256SUMS.decompressed', decompressedFrom(dir)), []);
});
