/**
 * Fuzzing every parser with truncated and bit-flipped copies of valid files: each damaged input
 * must either raise our DataFormatError (naming the file) or parse into a structurally valid
 * result (some flips, e.g. of a pixel byte, are undetectable by design). Anything else - a
 * RangeError/TypeError from deep inside, a crash, a hang (the test timeout) - fails.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync, brotliCompressSync } from 'node:zlib';
import * as tar from 'tar';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { DataFormatError } from '../../src/data/errors.js';
import { parseIdx, readIdxFile } from '../../src/data/idx.js';
import { parseCifarRecords, readCifarArchive } from '../../src/data/cifar10.js';
import { parseSvhnMat } from '../../src/data/svhn.js';
import { readMaybeCompressed } from '../../src/data/io.js';
import { decodeImage } from '../../src/data/folder.js';
import type { Split } from '../../src/data/types.js';
import { idxBytes, cifarRecords, matFile, svhnVars, randomBytes, lcg } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'jatp-data-fuzz-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

function validSplit(s: Split, numClasses: number, pixels: number): void {
  assert.equal(s.labels.length, s.count);
  assert.equal(s.images.length, s.count * pixels);
  for (const l of s.labels) assert.ok(Number.isInteger(l) && l >= 0 && l < numClasses, `label ${l}`);
}

/** Truncations at `cuts` lengths and single-bit flips at `flips` positions (all when small). */
function variants(bytes: Uint8Array, maxEach: number, seed: number): { what: string; data: Uint8Array }[] {
  const next = lcg(seed);
  const pick = (n: number): number[] => (n <= maxEach ? Array.from({ length: n }, (_, i) => i) : Array.from({ length: maxEach }, () => next() % n));
  const out: { what: string; data: Uint8Array }[] = [];
  for (const len of pick(bytes.length)) out.push({ what: `truncated to ${len}`, data: bytes.subarray(0, len) });
  for (const pos of pick(bytes.length)) {
    const d = Uint8Array.from(bytes);
    const bit = next() % 8;
    d[pos]! ^= 1 << bit;
    out.push({ what: `bit ${bit} of byte ${pos} flipped`, data: d });
  }
  return out;
}

function fuzz(name: string, bytes: Uint8Array, maxEach: number, parse: (data: Uint8Array, file: string) => void): { errors: number; parsed: number } {
  let errors = 0;
  let parsed = 0;
  for (const { what, data } of variants(bytes, maxEach, bytes.length)) {
    const file = join(tmp, name);
    try {
      parse(data, file);
      parsed++;
    } catch (err) {
      if (!(err instanceof DataFormatError)) assert.fail(`${name}, ${what}: threw ${(err as Error).name}: ${(err as Error).message}`);
      assert.ok(err.message.startsWith(file), `${name}, ${what}: message names the file: ${err.message}`);
      errors++;
    }
  }
  assert.ok(errors > 0, `${name}: some damage must be detected`);
  return { errors, parsed };
}

test('IDX parser (plain and gzipped) survives truncation and bit flips', { timeout: 60_000 }, () => {
  const plain = idxBytes([4, 6, 5], randomBytes(120, 1));
  fuzz('images-idx3-ubyte', plain, 400, (d, f) => {
    const a = parseIdx(d, f);
    assert.equal(a.data.length, a.dims.reduce((x, y) => x * y, 1));
  });
  const gz = gzipSync(plain);
  const r = fuzz('images-idx3-ubyte.gz', gz, 400, (d, f) => {
    writeFileSync(f, d);
    const a = readIdxFile(f);
    assert.equal(a.data.length, a.dims.reduce((x, y) => x * y, 1));
  });
  // gzip's CRC-32 and length trailer catch every truncation and flip of the payload.
  assert.ok(r.errors >= r.parsed);
});

test('CIFAR-10 records (plain, Brotli, tar.gz) survive truncation and bit flips', { timeout: 60_000 }, async () => {
  const rec = cifarRecords(randomBytes(3 * 3072, 2), [0, 5, 9]);
  fuzz('data_batch_1.bin', rec, 300, (d, f) => validSplit(parseCifarRecords(d, f), 10, 3072));
  fuzz('data_batch_2.bin.br', brotliCompressSync(rec), 300, (d, f) => {
    writeFileSync(f, d);
    validSplit(parseCifarRecords(readMaybeCompressed(f), f), 10, 3072);
  });
  const src = join(tmp, 'cifar-src');
  mkdirSync(join(src, 'cifar-10-batches-bin'), { recursive: true });
  for (const b of ['data_batch_1', 'data_batch_2', 'data_batch_3', 'data_batch_4', 'data_batch_5', 'test_batch']) writeFileSync(join(src, 'cifar-10-batches-bin', `${b}.bin`), rec);
  const archive = join(tmp, 'cifar.tar.gz.src');
  await tar.c({ gzip: true, file: archive, cwd: src }, ['cifar-10-batches-bin']);
  fuzz('cifar-10-binary.tar.gz', readFileSync(archive), 150, (d, f) => {
    writeFileSync(f, d);
    const ds = readCifarArchive(f);
    validSplit(ds.train, 10, 3072);
    validSplit(ds.test, 10, 3072);
  });
});

test('SVHN .mat parser (compressed and plain) survives truncation and bit flips', { timeout: 60_000 }, () => {
  const vars = svhnVars(randomBytes(2 * 3072, 3), [0, 7], 2);
  for (const compress of [true, false]) {
    fuzz(`train_32x32${compress ? '' : '_plain'}.mat`, matFile(vars, compress), 500, (d, f) => validSplit(parseSvhnMat(d, f), 10, 3072));
  }
  // The small header and tag region of an uncompressed file gets every byte flipped.
  const plain = matFile(svhnVars(randomBytes(3072, 4), [3], 9), false);
  const head = plain.subarray(0, 128 + 64);
  for (let pos = 0; pos < head.length; pos++) {
    const d = Uint8Array.from(plain);
    d[pos]! ^= 0x80;
    try {
      validSplit(parseSvhnMat(d, 'x.mat'), 10, 3072);
    } catch (err) {
      assert.ok(err instanceof DataFormatError, `byte ${pos}: ${(err as Error).name}: ${(err as Error).message}`);
    }
  }
});

test('PNG and JPEG decoding of damaged files raises DataFormatError or returns a consistent image', { timeout: 60_000 }, () => {
  const png = new PNG({ width: 5, height: 4 });
  Buffer.from(randomBytes(80, 5)).copy(png.data);
  fuzz('img.png', PNG.sync.write(png), 300, (d, f) => {
    writeFileSync(f, d);
    const img = decodeImage(f);
    assert.equal(img.rgba.length, img.width * img.height * 4);
  });
  const jpg = jpeg.encode({ data: Buffer.from(randomBytes(8 * 8 * 4, 6)), width: 8, height: 8 }, 90).data;
  fuzz('img.jpg', jpg, 300, (d, f) => {
    writeFileSync(f, d);
    const img = decodeImage(f);
    assert.equal(img.rgba.length, img.width * img.height * 4);
  });
});
