/**
 * Safetensors files on disk (the format and its strict checks: safetensors-codec.ts): atomic writes
 * (temp file + rename) and reads that name the file in every error.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { decodeSafetensors, encodeSafetensors, type SafeFile, type TensorToWrite } from './safetensors-codec.js';

export * from './safetensors-codec.js';

/** Writes `bytes` to `file` atomically: a temp file in the same folder, then rename. */
export async function writeFileAtomic(file: string, bytes: Uint8Array | string): Promise<void> {
  await fs.mkdir(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    await fs.writeFile(tmp, bytes);
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}

/** Writes tensors (and string metadata) as a safetensors file, atomically. */
export async function writeSafetensors(
  file: string,
  tensors: ReadonlyMap<string, TensorToWrite>,
  metadata: Record<string, string> = {},
): Promise<void> {
  await writeFileAtomic(file, encodeSafetensors(tensors, metadata));
}

/** Reads and strictly validates a safetensors file. */
export async function readSafetensors(file: string): Promise<SafeFile> {
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(file);
  } catch (err) {
    throw new Error(`${file}: cannot read safetensors file (${(err as Error).message})`);
  }
  return decodeSafetensors(bytes, file);
}
