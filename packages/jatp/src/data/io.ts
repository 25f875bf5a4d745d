/** Small file helpers shared by the readers: decompression that reports the file on failure. */
import { readFileSync } from 'node:fs';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { DataFormatError } from './errors.js';

/** True when `bytes` starts with the gzip magic number 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Reads a file and transparently decompresses it: gzip is recognised by its magic number, Brotli
 * (which has none) by a `.br` file name. A damaged stream becomes a DataFormatError naming the file.
 */
export function readMaybeCompressed(file: string): Uint8Array {
  let raw: Buffer;
  try {
    raw = readFileSync(file);
  } catch (err) {
    throw new DataFormatError(file, `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (file.endsWith('.br')) {
    try {
      return brotliDecompressSync(raw);
    } catch (err) {
      throw new DataFormatError(file, `is not a valid Brotli stream (truncated or corrupt: ${(err as Error).message})`);
    }
  }
  if (isGzip(raw)) {
    try {
      return gunzipSync(raw);
    } catch (err) {
      throw new DataFormatError(file, `is not a valid gzip stream (truncated or corrupt: ${(err as Error).message})`);
    }
  }
  return raw;
}
