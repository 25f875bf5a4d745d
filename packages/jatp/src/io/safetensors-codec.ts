/**
 * Reader and writer for the safetensors format (https://huggingface.co/docs/safetensors):
 *
 *   [u64 little-endian N] [N bytes of UTF-8 JSON header] [data buffer]
 *   header = { "<name>": { "dtype": "F32", "shape": [..], "data_offsets": [begin, end] }, ...,
 *              "__metadata__"?: { "<key>": "<string>" } }
 *
 * Offsets are relative to the data buffer. The reader is strict, the way the reference
 * implementation is: a header that does not describe the bytes exactly is rejected, with the file
 * and the offending entry named. Rules checked: header length within the file, valid JSON object,
 * known dtype, shape of non-negative integers, end - begin = numel * dtype size, offsets inside the
 * buffer, no two tensors overlapping, and no unindexed bytes (the entries tile the buffer exactly).
 * Data is read and written little-endian; big-endian hosts are refused rather than silently
 * byte-swapped wrong.
 *
 * This file is the in-memory codec and imports nothing from Node, so the browser weight loader
 * (io-handler.ts) uses it too; reading and writing files is in safetensors.ts.
 */

export type SafeDtype = 'F32' | 'I32' | 'I64' | 'F64' | 'F16' | 'BF16' | 'I16' | 'I8' | 'U8' | 'BOOL';

const DTYPE_BYTES: Readonly<Record<SafeDtype, number>> = {
  F64: 8, I64: 8, F32: 4, I32: 4, F16: 2, BF16: 2, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

/** Largest header accepted (the reference implementation uses the same 100 MB bound). */
const MAX_HEADER_BYTES = 100_000_000;

/** One decoded tensor: dtype, shape and raw little-endian bytes. */
export interface SafeTensor {
  readonly dtype: SafeDtype;
  readonly shape: readonly number[];
  /** Raw little-endian bytes (a copy, safely aligned). */
  readonly bytes: Uint8Array;
}

/** A decoded safetensors file: its tensors by name and its string metadata. */
export interface SafeFile {
  readonly tensors: Map<string, SafeTensor>;
  readonly metadata: Record<string, string>;
}

/** What the writer accepts: float32 or int32 data (int64 as BigInt64Array, e.g. PyTorch's num_batches_tracked). */
export interface TensorToWrite {
  readonly shape: readonly number[];
  readonly data: Float32Array | Int32Array | BigInt64Array;
}

function assertLittleEndian(): void {
  // The typed-array views below use the host's byte order; safetensors is little-endian.
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('safetensors: big-endian hosts are not supported');
}

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function dtypeOf(data: TensorToWrite['data']): SafeDtype {
  if (data instanceof Float32Array) return 'F32';
  if (data instanceof Int32Array) return 'I32';
  return 'I64';
}

/** Serialises tensors (in the given order) and string metadata to safetensors bytes. */
export function encodeSafetensors(tensors: ReadonlyMap<string, TensorToWrite>, metadata: Record<string, string> = {}): Uint8Array {
  assertLittleEndian();
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header['__metadata__'] = metadata;
  let offset = 0;
  for (const [name, t] of tensors) {
    if (name === '__metadata__' || name.length === 0) throw new Error(`safetensors: invalid tensor name '${name}'`);
    if (numel(t.shape) !== t.data.length) {
      throw new Error(`safetensors: tensor '${name}' has ${t.data.length} values but shape [${t.shape.join(', ')}]`);
    }
    const bytes = t.data.byteLength;
    header[name] = { dtype: dtypeOf(t.data), shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  // Pad with spaces so the data buffer starts 8-byte aligned (allowed by the format).
  const rawLen = new TextEncoder().encode(json).length;
  json += ' '.repeat((8 - ((8 + rawLen) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  for (const t of tensors.values()) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), pos);
    pos += t.data.byteLength;
  }
  return out;
}

/** Parses and strictly validates safetensors bytes; `source` names the file in errors. */
export function decodeSafetensors(bytes: Uint8Array, source: string): SafeFile {
  assertLittleEndian();
  const fail = (msg: string): never => {
    throw new Error(`${source}: invalid safetensors file: ${msg}`);
  };
  if (bytes.length < 8) fail(`file is ${bytes.length} bytes, shorter than the 8-byte header length`);
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) fail(`header length ${n} exceeds ${MAX_HEADER_BYTES}`);
  const headerLen = Number(n);
  if (8 + headerLen > bytes.length) fail(`header length ${headerLen} runs past the end of the ${bytes.length}-byte file`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen)));
  } catch (err) {
    fail(`header is not valid JSON (${(err as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) fail('header is not a JSON object');
  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: Array<{ name: string; dtype: SafeDtype; shape: number[]; begin: number; end: number }> = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail('__metadata__ is not an object');
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`__metadata__.${k} is not a string`);
        metadata[k] = v as string;
      }
      continue;
    }
    if (raw === null || typeof raw !== 'object') fail(`entry '${name}' is not an object`);
    const e = raw as Record<string, unknown>;
    const dtype = e['dtype'];
    if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) fail(`entry '${name}': unknown dtype ${JSON.stringify(dtype)}`);
    const shape = e['shape'];
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`entry '${name}': shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    }
    const offs = e['data_offsets'];
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      fail(`entry '${name}': data_offsets ${JSON.stringify(offs)} is not [begin, end]`);
    }
    const [begin, end] = offs as [number, number];
    if (end < begin) fail(`entry '${name}': data_offsets [${begin}, ${end}] end before begin`);
    if (end > dataLen) fail(`entry '${name}': data_offsets [${begin}, ${end}] past the ${dataLen}-byte data buffer`);
    const expected = numel(shape as number[]) * DTYPE_BYTES[dtype as SafeDtype];
    if (end - begin !== expected) {
      fail(`entry '${name}': ${end - begin} bytes for ${dtype} [${(shape as number[]).join(', ')}], expected ${expected}`);
    }
    entries.push({ name, dtype: dtype as SafeDtype, shape: shape as number[], begin, end });
  }
  // The entries must tile the data buffer: sorted by offset, each starts where the previous ended.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const e of sorted) {
    if (e.begin < cursor) fail(`entry '${e.name}' [${e.begin}, ${e.end}] overlaps the previous tensor (ends at ${cursor})`);
    if (e.begin > cursor) fail(`bytes [${cursor}, ${e.begin}) before entry '${e.name}' are not indexed by any tensor`);
    cursor = e.end;
  }
  if (cursor !== dataLen) fail(`data buffer has ${dataLen} bytes but the tensors index only ${cursor}`);
  const tensors = new Map<string, SafeTensor>();
  for (const e of entries) {
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, bytes: new Uint8Array(bytes.subarray(dataStart + e.begin, dataStart + e.end)) });
  }
  return { tensors, metadata };
}

/** Float32 values of a tensor; anything but F32 is rejected with the tensor named. */
export function asFloat32(t: SafeTensor, name: string, source: string): Float32Array {
  if (t.dtype !== 'F32') throw new Error(`${source}: tensor '${name}' is ${t.dtype}, expected F32`);
  return new Float32Array(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength / 4);
}
