/**
 * Checkpoint files: safetensors (the strict codec of io/safetensors-codec.ts) plus a SHA-256 of the
 * tensor data in the metadata, so a file damaged after it was written (not only a truncated one) is
 * detected and the loop can fall back to the previous checkpoint. Synchronous on purpose: the loop
 * checkpoints from a SIGINT handler, where it must finish before the process exits.
 *
 * Writes are atomic (io/atomic-write.ts).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { writeFileAtomicSync } from './atomic-write.js';
import { decodeSafetensors as decodeStrict, encodeSafetensors as encodeStrict, type TensorToWrite } from './safetensors-codec.js';

export type HostTensor =
  | { dtype: 'F32'; shape: number[]; data: Float32Array }
  | { dtype: 'I32'; shape: number[]; data: Int32Array };

export interface CheckpointContents {
  tensors: Map<string, HostTensor>;
  metadata: Record<string, string>;
}

const CHECKSUM_KEY = 'jatp_sha256';

function bytesOf(data: Float32Array | Int32Array): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** SHA-256 over the tensors' bytes in name order (independent of the header's layout). */
function checksum(tensors: ReadonlyMap<string, { data: Float32Array | Int32Array }>): string {
  const hash = createHash('sha256');
  for (const name of [...tensors.keys()].sort()) hash.update(bytesOf(tensors.get(name)!.data));
  return hash.digest('hex');
}

/** Serialises tensors (sorted by name) + string metadata into one safetensors buffer with our data checksum. */
export function encodeCheckpoint(tensors: Map<string, HostTensor>, metadata: Record<string, string> = {}): Buffer {
  const sorted = new Map<string, TensorToWrite>();
  for (const name of [...tensors.keys()].sort()) sorted.set(name, tensors.get(name)!);
  const bytes = encodeStrict(sorted, { ...metadata, [CHECKSUM_KEY]: checksum(tensors) });
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Parses a checkpoint; throws an error naming `source` and the defect when it is damaged. */
export function decodeCheckpoint(buf: Uint8Array, source: string): CheckpointContents {
  const file = decodeStrict(buf, source);
  const tensors = new Map<string, HostTensor>();
  for (const [name, t] of file.tensors) {
    // The strict decoder hands out aligned copies, so typed views are safe.
    const shape = [...t.shape];
    if (t.dtype === 'F32') tensors.set(name, { dtype: 'F32', shape, data: new Float32Array(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength / 4) });
    else if (t.dtype === 'I32') tensors.set(name, { dtype: 'I32', shape, data: new Int32Array(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength / 4) });
    else throw new Error(`${source}: tensor '${name}' is ${t.dtype}; checkpoints hold only F32 and I32`);
  }
  const metadata = { ...file.metadata };
  const expected = metadata[CHECKSUM_KEY];
  delete metadata[CHECKSUM_KEY];
  if (expected !== undefined && checksum(tensors) !== expected) {
    throw new Error(`${source}: checksum mismatch (file damaged after it was written)`);
  }
  return { tensors, metadata };
}

/** Writes a checkpoint file atomically (synchronously: see above). */
export function writeCheckpointFile(file: string, tensors: Map<string, HostTensor>, metadata: Record<string, string> = {}): void {
  writeFileAtomicSync(file, encodeCheckpoint(tensors, metadata));
}

/** Reads and verifies a checkpoint file; throws naming the file when it is damaged. */
export function readCheckpointFile(file: string): CheckpointContents {
  return decodeCheckpoint(fs.readFileSync(file), file);
}
