/**
 * Reader for the IDX format of MNIST and Fashion-MNIST (LeCun's format: 2 zero bytes, a type byte,
 * a dimension count, big-endian uint32 sizes, then the values). Only unsigned-byte payloads
 * (type 0x08) exist in these datasets, so only those are accepted. Files may be gzipped.
 */
import type { Split } from './types.js';
import { DataFormatError } from './errors.js';
import { readMaybeCompressed } from './io.js';

export interface IdxArray {
  readonly dims: readonly number[];
  readonly data: Uint8Array;
}

/** Parses IDX bytes; `file` is only used in error messages. */
export function parseIdx(bytes: Uint8Array, file: string): IdxArray {
  if (bytes.length < 4) throw new DataFormatError(file, `truncated IDX file: ${bytes.length} bytes, the header alone needs 4`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new DataFormatError(file, `wrong IDX magic number: expected first bytes 00 00, got ${hex(bytes[0]!)} ${hex(bytes[1]!)}`);
  }
  if (bytes[2] !== 0x08) {
    throw new DataFormatError(file, `unsupported IDX element type 0x${hex(bytes[2]!)}: MNIST-style files use 0x08 (unsigned byte)`);
  }
  const ndims = bytes[3]!;
  if (ndims < 1 || ndims > 4) throw new DataFormatError(file, `IDX dimension count ${ndims} is outside 1..4`);
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < headerBytes) throw new DataFormatError(file, `truncated IDX header: ${bytes.length} bytes, expected ${headerBytes}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  let total = 1;
  for (let d = 0; d < ndims; d++) {
    const size = view.getUint32(4 + 4 * d, false);
    dims.push(size);
    total *= size;
  }
  const expected = headerBytes + total;
  if (bytes.length !== expected) {
    const what = bytes.length < expected ? 'truncated' : 'has trailing bytes';
    throw new DataFormatError(file, `${what}: header says dims [${dims.join(', ')}] = ${expected} bytes, file has ${bytes.length}`);
  }
  return { dims, data: bytes.subarray(headerBytes) };
}

function hex(b: number): string {
  return b.toString(16).padStart(2, '0');
}

/** Reads one IDX file (gzipped or not). */
export function readIdxFile(file: string): IdxArray {
  return parseIdx(readMaybeCompressed(file), file);
}

/**
 * Reads an images file (dims [N, H, W]) and its labels file (dims [N]) into a Split with
 * 1-channel NHWC images; checks counts agree and labels are below `numClasses`.
 */
export function readIdxSplit(imagesFile: string, labelsFile: string, numClasses: number): Split & { imageShape: [number, number, number] } {
  const images = readIdxFile(imagesFile);
  const labels = readIdxFile(labelsFile);
  if (images.dims.length !== 3) {
    throw new DataFormatError(imagesFile, `expected an image file with 3 dimensions [count, height, width], got [${images.dims.join(', ')}]`);
  }
  if (labels.dims.length !== 1) {
    throw new DataFormatError(labelsFile, `expected a label file with 1 dimension [count], got [${labels.dims.join(', ')}]`);
  }
  const [count, height, width] = images.dims as [number, number, number];
  if (labels.dims[0] !== count) {
    throw new DataFormatError(labelsFile, `has ${labels.dims[0]} labels but ${imagesFile} has ${count} images`);
  }
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const label = labels.data[i]!;
    if (label >= numClasses) throw new DataFormatError(labelsFile, `label ${label} at index ${i} is out of range 0..${numClasses - 1}`);
    out[i] = label;
  }
  return { images: images.data, labels: out, count, imageShape: [height, width, 1] };
}
