import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync, mkdirSync, existsSync, readFileSync, rmSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar';
import { downloadFiles, downloadDataset, extractArchive, DownloadError, OfflineError, UnsafeArchiveError } from '../../src/data/download.js';
import { loadDataset } from '../../src/data/index.js';
import { dataDownload } from '../../src/cli/data.js';
import { cifarRecords, randomBytes, idxBytes, matFile, svhnVars } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'jatp-data-download-'));
let dirCount = 0;
const freshDir = (): string => {
  const d = join(tmp, `d${dirCount++}`);
  mkdirSync(d, { recursive: true });
  return d;
};
const md5 = (b: Uint8Array): string => createHash('md5').update(b).digest('hex');

/** A local server: GET /<name> serves files[name]; supports Range; modes per path simulate faults. */
const files = new Map<string, Uint8Array>();
const requests: { path: string; range?: string }[] = [];
/** Paths whose next full (non-range) response is cut after half the bytes. */
const cutOnce = new Set<string>();
/** Paths served with one flipped byte (a corrupted transfer). */
const corrupt = new Set<string>();
const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  const path = decodeURIComponent((req.url ?? '/').slice(1));
  requests.push({ path, ...(req.headers.range ? { range: req.headers.range } : {}) });
  if (path.startsWith('redirect/')) {
    res.writeHead(302, { Location: `/${path.slice('redirect/'.length)}` }).end();
    return;
  }
  let body = files.get(path);
  if (!body) {
    res.writeHead(404).end('not found');
    return;
  }
  if (corrupt.has(path)) {
    body = Uint8Array.from(body);
    body[body.length >> 1] ^= 0xff;
  }
  const range = /bytes=(\d+)-/.exec(req.headers.range ?? '');
  if (range) {
    const start = Number(range[1]);
    if (start >= body.length) {
      res.writeHead(416).end();
      return;
    }
    res.writeHead(206, { 'Content-Length': body.length - start, 'Content-Range': `bytes ${start}-${body.length - 1}/${body.length}` });
    res.end(Buffer.from(body.subarray(start)));
    return;
  }
  res.writeHead(200, { 'Content-Length': body.length });
  if (cutOnce.has(path)) {
    cutOnce.delete(path);
    res.write(Buffer.from(body.subarray(0, body.length >> 1)), () => res.destroy());
    return;
  }
  res.end(Buffer.from(body));
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
after(() => {
  server.close();
  rmSync(tmp, { recursive: true, force: true });
});

test('downloads verified files atomically, follows redirects, and skips files already present', async () => {
  const a = randomBytes(5000, 1);
  const b = randomBytes(300, 2);
  files.set('a.bin', a);
  files.set('b.bin', b);
  const dir = freshDir();
  const list = [
    { file: 'a.bin', url: `${base}/a.bin`, md5: md5(a) },
    { file: 'b.bin', url: `${base}/redirect/b.bin`, md5: md5(b) },
  ];
  const got = await downloadFiles(list, dir);
  assert.deepEqual(readFileSync(join(dir, 'a.bin')), Buffer.from(a));
  assert.deepEqual(readFileSync(join(dir, 'b.bin')), Buffer.from(b));
  assert.equal(got[0]!.sha256, createHash('sha256').update(a).digest('hex'));
  assert.deepEqual(readdirSync(dir).sort(), ['a.bin', 'b.bin'], 'no .part files left');
  const before = requests.length;
  const again = await downloadFiles(list, dir);
  assert.equal(requests.length, before, 'verified files are not fetched again');
  assert.ok(again.every((f) => f.skipped));
});

test('an interrupted download keeps its .part and the next run resumes with a Range request', async () => {
  const big = randomBytes(200_000, 3);
  files.set('big.bin', big);
  cutOnce.add('big.bin');
  const dir = freshDir();
  const list = [{ file: 'big.bin', url: `${base}/big.bin`, md5: md5(big) }];
  await assert.rejects(downloadFiles(list, dir), (e: unknown) => e instanceof DownloadError && /rerun the same command to resume/.test(e.message));
  assert.ok(!existsSync(join(dir, 'big.bin')), 'no final file after an interruption');
  const partSize = statSync(join(dir, 'big.bin.part')).size;
  assert.ok(partSize > 0 && partSize < big.length, `partial ${partSize}`);
  await downloadFiles(list, dir);
  assert.deepEqual(requests.at(-1), { path: 'big.bin', range: `bytes=${partSize}-` });
  assert.deepEqual(readFileSync(join(dir, 'big.bin')), Buffer.from(big));
  assert.ok(!existsSync(join(dir, 'big.bin.part')));
});

test('a .part that already holds the whole file is verified and renamed (server answers 416)', async () => {
  const data = randomBytes(3000, 7);
  files.set('whole.bin', data);
  const dir = freshDir();
  writeFileSync(join(dir, 'whole.bin.part'), data);
  await downloadFiles([{ file: 'whole.bin', url: `${base}/whole.bin`, md5: md5(data) }], dir);
  assert.deepEqual(requests.at(-1), { path: 'whole.bin', range: 'bytes=3000-' });
  assert.deepEqual(readdirSync(dir), ['whole.bin']);
  assert.deepEqual(readFileSync(join(dir, 'whole.bin')), Buffer.from(data));
});

test('a corrupted download fails the md5 check, is removed, and leaves no final file', async () => {
  const data = randomBytes(4000, 4);
  files.set('c.bin', data);
  corrupt.add('c.bin');
  const dir = freshDir();
  const list = [{ file: 'c.bin', url: `${base}/c.bin`, md5: md5(data) }];
  await assert.rejects(downloadFiles(list, dir), (e: unknown) => e instanceof DownloadError && /checksum mismatch/.test(e.message) && e.message.includes(md5(data)));
  assert.deepEqual(readdirSync(dir), []);
  corrupt.delete('c.bin');
  await downloadFiles(list, dir);
  assert.deepEqual(readFileSync(join(dir, 'c.bin')), Buffer.from(data));
});

test('the official checksums reject files that are not the official ones (fashion-mnist via --mirror)', async () => {
  files.set('train-images-idx3-ubyte.gz', gzipSync(idxBytes([1, 28, 28], new Uint8Array(784))));
  const dir = freshDir();
  await assert.rejects(downloadDataset('fashion-mnist', { dataDir: dir, mirror: base }), /checksum mismatch \(md5 [0-9a-f]{32}, expected 8d4fb7e6c68d591d4c3dfef9ec88bf0d\)/);
});

test('jatp data download refuses files that miss the official md5; files without a published md5 are fetched unverified', async () => {
  // svhn files built here cannot match the official md5, so the action must refuse them...
  files.set('train_32x32.mat', matFile(svhnVars(randomBytes(2 * 3072, 8), [1, 0])));
  files.set('test_32x32.mat', matFile(svhnVars(randomBytes(3072, 9), [5])));
  const dir = freshDir();
  const lines: string[] = [];
  await assert.rejects(dataDownload('svhn', { dataDir: dir, mirror: base }, (m) => lines.push(m)), /checksum mismatch/);
  assert.deepEqual(readdirSync(dir), [], 'nothing kept');
  // A list without checksums downloads as is; the reader then checks the format.
  const got = await downloadFiles([
    { file: 'train_32x32.mat', url: `${base}/train_32x32.mat` },
    { file: 'test_32x32.mat', url: `${base}/test_32x32.mat` },
  ], dir);
  assert.ok(got.every((f) => !f.verified));
  const ds = await loadDataset('svhn', { dataDir: dir });
  assert.deepEqual([ds.train.count, ds.test.count], [2, 1]);
  assert.ok(lines.some((l) => l.includes('downloading')));
});

test('offline: one message listing which files to put where', async () => {
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const dir = freshDir();
  await assert.rejects(downloadDataset('svhn', { dataDir: dir, mirror: `http://127.0.0.1:${port}` }), (e: unknown) =>
    e instanceof OfflineError && /ECONNREFUSED/.test(e.message) && e.message.includes(join(dir, 'train_32x32.mat')) && e.message.includes('http://ufldl.stanford.edu/housenumbers/test_32x32.mat') && e.message.includes('eb5a983be6a315427106f1b164d9cef3'));
});

test('an HTTP error names the URL and status', async () => {
  await assert.rejects(downloadFiles([{ file: 'x', url: `${base}/missing.bin`, md5: '0'.repeat(32) }], freshDir()), /missing\.bin: HTTP 404/);
});

test('a CIFAR-10 tar.gz served locally is verified, extracted and then readable', async () => {
  const src = freshDir();
  mkdirSync(join(src, 'cifar-10-batches-bin'));
  for (const name of ['data_batch_1', 'data_batch_2', 'data_batch_3', 'data_batch_4', 'data_batch_5', 'test_batch']) {
    writeFileSync(join(src, 'cifar-10-batches-bin', `${name}.bin`), cifarRecords(randomBytes(2 * 3072, name.length), [1, 2]));
  }
  const archive = join(freshDir(), 'cifar-10-binary.tar.gz');
  await tar.c({ gzip: true, file: archive, cwd: src }, ['cifar-10-batches-bin']);
  const bytes = readFileSync(archive);
  files.set('cifar-10-binary.tar.gz', bytes);
  const dir = freshDir();
  await downloadFiles([{ file: 'cifar-10-binary.tar.gz', url: `${base}/cifar-10-binary.tar.gz`, md5: md5(bytes), extract: true }], dir);
  assert.ok(existsSync(join(dir, 'cifar-10-batches-bin', 'test_batch.bin')));
  assert.ok(!readdirSync(dir).some((f) => f.startsWith('.extract-')), 'temporary folder removed');
  const ds = await loadDataset('cifar10', { dataDir: dir });
  assert.equal(ds.train.count, 10);
});

/** A ustar header + body, written by hand so the tests can build archives no tool would write. */
function tarEntry(name: string, body: Uint8Array, type: '0' | '2' | '5', linkname = ''): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(`${body.length.toString(8).padStart(11, '0')}\0`, 124);
  h.write('00000000000\0', 136);
  h.write('        ', 148);
  h.write(type, 156);
  h.write(linkname, 157);
  h.write('ustar\x0000', 257, 'latin1');
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  const padded = Buffer.alloc(Math.ceil(body.length / 512) * 512);
  Buffer.from(body).copy(padded);
  return Buffer.concat([h, padded]);
}

function tarGz(entries: Buffer[]): Buffer {
  return gzipSync(Buffer.concat([...entries, Buffer.alloc(1024)]));
}

test('extraction refuses archives with paths escaping the target, absolute paths or links, and writes nothing', async () => {
  const cases: [string, Buffer][] = [
    ['dotdot', tarGz([tarEntry('ok.txt', Buffer.from('fine'), '0'), tarEntry('../escaped.txt', Buffer.from('evil'), '0')])],
    ['nested-dotdot', tarEntry('a/../../escaped.txt', Buffer.from('evil'), '0')],
    ['absolute', tarEntry('/tmp/jatp-escaped.txt', Buffer.from('evil'), '0')],
    ['symlink', tarEntry('link', new Uint8Array(0), '2', '/etc/passwd')],
  ].map(([n, e]) => [n as string, Buffer.isBuffer(e) && e[0] === 0x1f ? e : tarGz([e as Buffer])]);
  for (const [name, archiveBytes] of cases) {
    const outer = freshDir();
    const target = join(outer, 'target');
    const archive = join(outer, `${name}.tar.gz`);
    writeFileSync(archive, archiveBytes);
    await assert.rejects(extractArchive(archive, target), (e: unknown) => e instanceof UnsafeArchiveError && e.message.includes(archive), name);
    assert.deepEqual(readdirSync(outer), [`${name}.tar.gz`], `${name}: nothing written`);
  }
  assert.ok(!existsSync('/tmp/jatp-escaped.txt'));
  const broken = join(freshDir(), 'broken.tar.gz');
  writeFileSync(broken, tarGz([tarEntry('x.txt', Buffer.from('data'), '0')]).subarray(0, 30));
  await assert.rejects(extractArchive(broken, join(broken, '..', 't')), (e: unknown) => e instanceof DownloadError && e.message.startsWith(`${broken}: not a readable tar archive`));
  // The hand-made format itself is fine: a benign archive extracts.
  const outer = freshDir();
  const archive = join(outer, 'ok.tar.gz');
  writeFileSync(archive, tarGz([tarEntry('dir/ok.txt', Buffer.from('fine'), '0')]));
  await extractArchive(archive, join(outer, 't'));
  assert.equal(readFileSync(join(outer, 't', 'dir', 'ok.txt'), 'utf8'), 'fine');
});
