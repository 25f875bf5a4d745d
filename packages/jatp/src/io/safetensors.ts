/**
 * Safetensors files on disk (the format and its strict checks: safetensors-codec.ts): atomic writes
 * (io/atomic-write.ts) and reads that name the file in every error.
 */
import { promises as fs } from 'node:fs';
import { writeFileAtomic } from './atomic-write.js';
import { decodeSafetensors, encodeSafetensors, type SafeFile, type TensorToWrite } from './safetensors-codec.js';

export * from './safetensors-codec.js';

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
