/**
 * The one way this package writes a file that a reader may look at while it is written or after a
 * crash: the bytes go to a temporary file in the same folder, are flushed to disk (fsync), checked to
 * be all there, and only then renamed over the destination. A reader therefore sees the old file or
 * the whole new one, never a prefix. On any failure the temporary file is removed and the
 * destination is left as it was.
 *
 * Two variants with the same guarantees: `writeFileAtomicSync` for callers that must finish before
 * the process exits (the training loop checkpoints from a SIGINT handler; the evaluation harness
 * records each finished batch), `writeFileAtomic` for everything else.
 *
 * `fs` is the module object (not a namespace import) so that tests can replace single calls on it
 * to simulate a full disk or a short write.
 */
import fs from 'node:fs';
import * as path from 'node:path';

function asBytes(data: Uint8Array | string): Uint8Array {
  return typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
}

/** A temporary name beside `file`, unique per process and call. */
function tempNameFor(file: string): string {
  return `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
}

/**
 * Fault injection for the CLI tests where no small file system can be mounted:
 * JATP_TEST_SHORT_WRITE=<k> makes the k-th atomic write of this process (1-based) reach the disk
 * only half of its bytes, as write(2) does on a nearly full disk. Unset in normal use.
 */
let atomicWrites = 0;
function injectedShortWrite(asked: number): number | undefined {
  const k = process.env.JATP_TEST_SHORT_WRITE;
  if (k === undefined || k === '') return undefined;
  atomicWrites++;
  return atomicWrites === Number(k) ? Math.floor(asked / 2) : undefined;
}

function shortWriteError(file: string, written: number, asked: number): Error {
  return new Error(`${file}: short write (${written} of ${asked} bytes reached the disk; is it full?); the previous file is kept`);
}

/** Writes `data` to `file` atomically (temp file, fsync, size check, rename); creates the folder. */
export function writeFileAtomicSync(file: string, data: Uint8Array | string): void {
  const bytes = asBytes(data);
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = tempNameFor(file);
  try {
    const fd = fs.openSync(tmp, 'w');
    try {
      const injected = injectedShortWrite(bytes.byteLength);
      const written = fs.writeSync(fd, bytes, 0, injected ?? bytes.byteLength, 0);
      if (written !== bytes.byteLength) throw shortWriteError(file, written, bytes.byteLength);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

/** Writes `data` to `file` atomically (temp file, fsync, size check, rename); creates the folder. */
export async function writeFileAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const bytes = asBytes(data);
  await fs.promises.mkdir(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = tempNameFor(file);
  try {
    const handle = await fs.promises.open(tmp, 'w');
    try {
      const injected = injectedShortWrite(bytes.byteLength);
      const { bytesWritten } = await handle.write(bytes, 0, injected ?? bytes.byteLength, 0);
      if (bytesWritten !== bytes.byteLength) throw shortWriteError(file, bytesWritten, bytes.byteLength);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.promises.rename(tmp, file);
  } catch (err) {
    await fs.promises.rm(tmp, { force: true });
    throw err;
  }
}
