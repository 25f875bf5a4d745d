/**
 * The atomic writer: a finished write replaces the file whole; a short write (simulated full disk)
 * or a failing fsync throws, keeps the previous file untouched and leaves no temporary file behind.
 */
import { test, mock, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeFileAtomic, writeFileAtomicSync } from '../../src/io/atomic-write.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jatp-atomic-'));
afterEach(() => mock.restoreAll());

function leftovers(): string[] {
  return fs.readdirSync(dir).filter((f) => f.includes('.tmp-'));
}

test('both variants write the whole file, create the folder and replace an existing file', async () => {
  const a = path.join(dir, 'sub', 'a.bin');
  writeFileAtomicSync(a, new Uint8Array([1, 2, 3]));
  assert.deepEqual([...fs.readFileSync(a)], [1, 2, 3]);
  writeFileAtomicSync(a, 'text');
  assert.equal(fs.readFileSync(a, 'utf8'), 'text');
  const b = path.join(dir, 'sub2', 'b.txt');
  await writeFileAtomic(b, 'héllo');
  assert.equal(fs.readFileSync(b, 'utf8'), 'héllo');
  await writeFileAtomic(b, new Uint8Array(70_000).fill(7));
  assert.equal(fs.readFileSync(b).length, 70_000);
});

test('sync: a short write throws, keeps the old file and removes the temp file', () => {
  const file = path.join(dir, 'short-sync.json');
  fs.writeFileSync(file, 'old');
  const real = fs.writeSync;
  mock.method(fs, 'writeSync', (fd: number, buf: Uint8Array, off: number, len: number, pos: number) => real(fd, buf, off, len - 1, pos));
  assert.throws(() => writeFileAtomicSync(file, 'new content'), /short-sync\.json: short write \(10 of 11 bytes/);
  assert.equal(fs.readFileSync(file, 'utf8'), 'old');
  assert.deepEqual(leftovers(), []);
});

test('sync: a failing fsync throws and cleans up', () => {
  const file = path.join(dir, 'fsync.json');
  mock.method(fs, 'fsyncSync', () => {
    throw new Error('EIO: simulated');
  });
  assert.throws(() => writeFileAtomicSync(file, 'x'), /EIO/);
  assert.equal(fs.existsSync(file), false);
  assert.deepEqual(leftovers(), []);
});

test('async: a short write throws, keeps the old file and removes the temp file', async () => {
  const file = path.join(dir, 'short-async.bin');
  fs.writeFileSync(file, 'old');
  const realOpen = fs.promises.open;
  mock.method(fs.promises, 'open', async (p: string, flags: string) => {
    const handle = await realOpen(p, flags);
    return {
      write: async (buf: Uint8Array, off: number, len: number, pos: number) => handle.write(buf, off, len - 2, pos),
      sync: () => handle.sync(),
      close: () => handle.close(),
    };
  });
  await assert.rejects(writeFileAtomic(file, new Uint8Array(100)), /short-async\.bin: short write \(98 of 100 bytes/);
  assert.equal(fs.readFileSync(file, 'utf8'), 'old');
  assert.deepEqual(leftovers(), []);
});

test('cleanup', () => fs.rmSync(dir, { recursive: true, force: true }));
