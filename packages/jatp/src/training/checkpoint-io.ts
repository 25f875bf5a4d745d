/**
 * Minimal safetensors reader/writer for training checkpoints (format: 8-byte little-endian header
 * length, a JSON header `{ name: { dtype, shape, data_offsets: [begin, end] }, __metadata__: {..} }`,
 * then the raw little-endian tensor bytes). Checkpoints also carry a SHA-256 of the data region in
 * the metadata, so a file damaged after it was written (not only a truncated one) is detected and
 * the loop can fall back to the previous checkpoint.
 *
 * Writes are atomic: a temp file in the same folder, fsync, then rename.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export type HostTensor =
  | { dtype: 'F32'; shape: number[]; data: Float32Array }
  | { dtype: 'I32'; shape: number[]; data: Int32Array };

export interface SafetensorsFile {
  tensors: Map<string, HostTensor>;
  metadata: Record<string, string>;
}

const CHECKSUM_KEY = 'jatp_sha256';

function bytesOf(t: HostTensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

/** Serialises tensors + string metadata into one safetensors buffer (with our data checksum). */
export function encodeSafetensors(tensors: Map<string, HostTensor>, metadata: Record<string, string> = {}): Buffer {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = {};
  let offset = 0;
  const hash = createHash('sha256');
  const parts: Uint8Array[] = [];
  for (const name of names) {
    const t = tensors.get(name)!;
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new Error(`safetensors: tensor '${name}' has shape [${t.shape}] but ${t.data.length} values`);
    const b = bytesOf(t);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + b.byteLength] };
    offset += b.byteLength;
    hash.update(b);
    parts.push(b);
  }
  header['__metadata__'] = { ...metadata, [CHECKSUM_KEY]: hash.digest('hex') };
  let json = JSON.stringify(header);
  // Pad the header with spaces to a multiple of 8 so tensor data is aligned (allowed by the format).
  while ((8 + Buffer.byteLength(json)) % 8 !== 0) json += ' ';
  const headerBytes = Buffer.from(json, 'utf8');
  const lenBytes = Buffer.alloc(8);
  lenBytes.writeBigUInt64LE(BigInt(headerBytes.byteLength));
  return Buffer.concat([lenBytes, headerBytes, ...parts]);
}

/** Parses a safetensors buffer; throws an error naming `source` and the defect when it is damaged. */
export function decodeSafetensors(buf: Buffer, source: string): SafetensorsFile {
  if (buf.byteLength < 8) throw new Error(`${source}: not a safetensors file (only ${buf.byteLength} bytes)`);
  const headerLen = Number(buf.readBigUInt64LE(0));
  if (headerLen <= 0 || 8 + headerLen > buf.byteLength) {
    throw new Error(`${source}: damaged safetensors header (header length ${headerLen}, file ${buf.byteLength} bytes)`);
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${source}: damaged safetensors header (invalid JSON: ${(err as Error).message})`);
  }
  const dataStart = 8 + headerLen;
  const dataLen = buf.byteLength - dataStart;
  const metadata = (header['__metadata__'] ?? {}) as Record<string, string>;
  const tensors = new Map<string, HostTensor>();
  let maxEnd = 0;
  for (const [name, desc] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const d = desc as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
    if (!d.shape || !d.data_offsets || (d.dtype !== 'F32' && d.dtype !== 'I32')) {
      throw new Error(`${source}: tensor '${name}' has an unsupported entry (dtype ${d.dtype}; expected F32 or I32)`);
    }
    const [b, e] = d.data_offsets;
    const n = d.shape.reduce((x, y) => x * y, 1);
    if (!(b >= 0 && e >= b && e <= dataLen && e - b === n * 4)) {
      throw new Error(`${source}: tensor '${name}' offsets [${b}, ${e}] do not fit shape [${d.shape}] in ${dataLen} data bytes (truncated file?)`);
    }
    maxEnd = Math.max(maxEnd, e);
    // Copy into a fresh aligned buffer (the file buffer's offset need not be 4-aligned).
    const bytes = new Uint8Array(e - b);
    bytes.set(buf.subarray(dataStart + b, dataStart + e));
    tensors.set(
      name,
      d.dtype === 'F32'
        ? { dtype: 'F32', shape: d.shape, data: new Float32Array(bytes.buffer) }
        : { dtype: 'I32', shape: d.shape, data: new Int32Array(bytes.buffer) },
    );
  }
  const expected = metadata[CHECKSUM_KEY];
  if (expected !== undefined) {
    const hash = createHash('sha256');
    for (const name of [...tensors.keys()].sort()) hash.update(bytesOf(tensors.get(name)!));
    if (hash.digest('hex') !== expected) throw new Error(`${source}: checksum mismatch (file damaged after it was written)`);
  }
  if (maxEnd !== dataLen) throw new Error(`${source}: ${dataLen - maxEnd} unexpected trailing bytes after the tensor data`);
  const meta = { ...metadata };
  delete meta[CHECKSUM_KEY];
  return { tensors, metadata: meta };
}

/** Writes `data` to `file` atomically: temp file in the same folder, fsync, rename. */
export function writeFileAtomic(file: string, data: Buffer | string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

export function writeSafetensors(file: string, tensors: Map<string, HostTensor>, metadata: Record<string, string> = {}): void {
  writeFileAtomic(file, encodeSafetensors(tensors, metadata));
}

export function readSafetensors(file: string): SafetensorsFile {
  return decodeSafetensors(fs.readFileSync(file), file);
}
