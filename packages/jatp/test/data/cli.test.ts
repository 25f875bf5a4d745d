import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { Command } from 'commander';
import { dataInfo, formatInfo, register } from '../../src/cli/data.js';
import { idxBytes, randomBytes, cifarRecords } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'jatp-data-cli-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const labels = Uint8Array.from({ length: 12 }, (_, i) => i % 3);
const files: Record<string, Uint8Array> = {
  'train-images-idx3-ubyte.gz': gzipSync(idxBytes([12, 28, 28], randomBytes(12 * 784, 1))),
  'train-labels-idx1-ubyte.gz': gzipSync(idxBytes([12], labels)),
  't10k-images-idx3-ubyte': idxBytes([3, 28, 28], randomBytes(3 * 784, 2)),
  't10k-labels-idx1-ubyte': idxBytes([3], Uint8Array.of(9, 9, 0)),
};
for (const [f, b] of Object.entries(files)) writeFileSync(join(dir, f), b);

test('data info reports counts per split and class and every file checksum, flagging non-official files', async () => {
  const r = await dataInfo('mnist', { dataDir: dir });
  assert.equal(r.source, dir);
  assert.equal(r.train.count, 12);
  assert.deepEqual(r.train.perClass, [4, 4, 4, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(r.test.perClass, [1, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
  assert.equal(r.files.length, 4);
  for (const f of r.files) {
    const bytes = files[f.file.slice(dir.length + 1)]!;
    assert.equal(f.sha256, createHash('sha256').update(bytes).digest('hex'));
    assert.equal(f.md5, createHash('md5').update(bytes).digest('hex'));
    // gz files carry the official name, so their md5 is compared (and differs); plain ones have no published md5.
    assert.equal(f.check, f.file.endsWith('.gz') ? 'mismatch' : 'unpublished');
  }
  const text = formatInfo(r);
  assert.match(text, /train\s+12\n/);
  assert.match(text, /DIFFERS from the published checksum/);
});

test('`jatp data info --json` prints the report on stdout; a missing dataset exits 1 with the reason on stderr', async () => {
  const out: string[] = [];
  const err: string[] = [];
  const realOut = process.stdout.write.bind(process.stdout);
  const realErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string) => (out.push(s), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => (err.push(s), true)) as typeof process.stderr.write;
  try {
    const program = new Command('jatp').exitOverride();
    register(program);
    await program.parseAsync(['node', 'jatp', 'data', 'info', 'mnist', '--data-dir', dir, '--json']);
    await program.parseAsync(['node', 'jatp', 'data', 'info', 'svhn', '--data-dir', join(dir, 'nope'), '--no-checksums']);
  } finally {
    process.stdout.write = realOut;
    process.stderr.write = realErr;
  }
  const report = JSON.parse(out.join('')) as { train: { count: number }; test: { count: number } };
  assert.equal(report.train.count, 12);
  assert.equal(report.test.count, 3);
  assert.match(err.join(''), /svhn: dataset not found.*nope/);
  assert.equal(process.exitCode, 1);
  process.exitCode = 0;
});

test('data info compares files with a SHA256SUMS list beside them (as in shared/data)', async () => {
  const cdir = join(dir, 'cifar');
  mkdirSync(cdir);
  const sums: string[] = [];
  for (const b of ['data_batch_1', 'data_batch_2', 'data_batch_3', 'data_batch_4', 'data_batch_5', 'test_batch']) {
    const bytes = cifarRecords(randomBytes(3072, b.length), [4]);
    writeFileSync(join(cdir, `${b}.bin`), bytes);
    // data_batch_2 is listed with a wrong digest.
    sums.push(`${b === 'data_batch_2' ? '0'.repeat(64) : createHash('sha256').update(bytes).digest('hex')}  ${b}.bin`);
  }
  writeFileSync(join(cdir, 'SHA256SUMS'), `${sums.join('\n')}\n`);
  const r = await dataInfo('cifar10', { dataDir: cdir });
  assert.equal(r.train.count, 5);
  assert.deepEqual(r.files.map((f) => f.check), ['sha256sums', 'sha256sums-mismatch', 'sha256sums', 'sha256sums', 'sha256sums', 'sha256sums']);
  assert.match(formatInfo(r), /data_batch_2\.bin .*DIFFERS from the SHA256SUMS beside it/);
});
