/**
 * A deliberately small reader for MATLAB Level-5 MAT-files (the format of SVHN's `*_32x32.mat`,
 * written by MATLAB's default `-v7`: a 128-byte header, then data elements, each variable usually
 * zlib-compressed as one miCOMPRESSED element holding one miMATRIX).
 *
 * Supported: little-endian files (what MATLAB writes on every current platform) holding real,
 * non-sparse numeric matrices (double, single, (u)int8/16/32 classes) with any numeric storage
 * type, compressed or not. Everything the SVHN files need and
 * nothing else: cell arrays, structs, chars, sparse, complex and v7.3 (HDF5) files are rejected with
 * a DataFormatError naming the file, and variables not asked for are skipped without being decoded.
 *
 * Layout reference: MathWorks, "MAT-File Format" (matfile_format.pdf), chapter 1.
 */
import { inflateSync } from 'node:zlib';
import { DataFormatError } from './errors.js';

export const MI = { INT8: 1, UINT8: 2, INT16: 3, UINT16: 4, INT32: 5, UINT32: 6, SINGLE: 7, DOUBLE: 9, MATRIX: 14, COMPRESSED: 15 } as const;
/** MATLAB array classes (the low byte of the array-flags word). */
export const MX = { CELL: 1, STRUCT: 2, OBJECT: 3, CHAR: 4, SPARSE: 5, DOUBLE: 6, SINGLE: 7, INT8: 8, UINT8: 9, INT16: 10, UINT16: 11, INT32: 12, UINT32: 13 } as const;

const ELEMENT_BYTES: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 9: 8 };
const NUMERIC_CLASSES = new Set<number>([MX.DOUBLE, MX.SINGLE, MX.INT8, MX.UINT8, MX.INT16, MX.UINT16, MX.INT32, MX.UINT32]);

export interface MatVariable {
  readonly name: string;
  /** MATLAB class (MX.*). */
  readonly mxClass: number;
  /** MATLAB dimensions, column-major (first index varies fastest). */
  readonly dims: readonly number[];
  /** Storage type of the values (MI.*). */
  readonly storage: number;
  /** The raw values: the stored bytes when storage is UINT8, otherwise decoded numbers. */
  readonly values: Uint8Array | Float64Array;
}

interface Tag {
  readonly type: number;
  readonly nbytes: number;
  readonly dataStart: number;
  readonly next: number;
}

class Reader {
  readonly view: DataView;
  constructor(
    readonly bytes: Uint8Array,
    readonly littleEndian: boolean,
    readonly file: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  u32(pos: number): number {
    return this.view.getUint32(pos, this.littleEndian);
  }

  tag(pos: number, end: number, what: string): Tag {
    if (pos + 8 > end) throw new DataFormatError(this.file, `truncated MAT-file: ${what} tag at byte ${pos} runs past the end`);
    const first = this.u32(pos);
    const small = first >>> 16;
    if (small !== 0) {
      // Small data element format: size in the upper half-word, data in the tag's second word.
      const type = first & 0xffff;
      if (small > 4) throw new DataFormatError(this.file, `corrupt MAT-file: small ${what} element at byte ${pos} claims ${small} bytes (at most 4)`);
      return { type, nbytes: small, dataStart: pos + 4, next: pos + 8 };
    }
    const nbytes = this.u32(pos + 4);
    const dataStart = pos + 8;
    if (dataStart + nbytes > end) {
      throw new DataFormatError(this.file, `truncated MAT-file: ${what} at byte ${pos} claims ${nbytes} bytes, only ${end - dataStart} remain`);
    }
    // Compressed elements are not padded; all others are padded to 8 bytes.
    const next = first === MI.COMPRESSED ? dataStart + nbytes : Math.min(end, dataStart + Math.ceil(nbytes / 8) * 8);
    return { type: first, nbytes, dataStart, next };
  }

  expectType(tag: Tag, type: number, what: string): void {
    if (tag.type !== type) throw new DataFormatError(this.file, `corrupt MAT-file: ${what} has data type ${tag.type}, expected ${type}`);
  }
}

/** Parses a MAT-file and returns the variables whose names are in `wanted` (others are skipped). */
export function parseMat(bytes: Uint8Array, file: string, wanted: ReadonlySet<string>): Map<string, MatVariable> {
  if (bytes.length < 128) throw new DataFormatError(file, `truncated MAT-file: ${bytes.length} bytes, the header alone is 128`);
  const text = Buffer.from(bytes.subarray(0, 116)).toString('latin1');
  if (text.startsWith('MATLAB 7.3')) {
    throw new DataFormatError(file, 'is a MATLAB v7.3 (HDF5) file; only Level-5 MAT-files (MATLAB -v7 / -v6, like the official SVHN files) are supported');
  }
  if (!text.startsWith('MATLAB 5.0 MAT-file')) {
    throw new DataFormatError(file, `wrong magic: expected a header starting "MATLAB 5.0 MAT-file", got "${text.slice(0, 20).replace(/[^\x20-\x7e]/g, '?')}"`);
  }
  const endian = String.fromCharCode(bytes[126]!, bytes[127]!);
  if (endian === 'MI') throw new DataFormatError(file, 'is a big-endian MAT-file; only little-endian files (like the official SVHN files) are supported');
  if (endian !== 'IM') throw new DataFormatError(file, `corrupt MAT-file header: endian indicator "${endian}" is not IM`);
  const top = new Reader(bytes, true, file);
  const version = top.view.getUint16(124, top.littleEndian);
  if (version !== 0x0100) throw new DataFormatError(file, `unsupported MAT-file version 0x${version.toString(16)} (expected 0x0100)`);

  const found = new Map<string, MatVariable>();
  let pos = 128;
  while (pos < bytes.length) {
    const tag = top.tag(pos, bytes.length, 'variable');
    if (tag.type === MI.COMPRESSED) {
      let inner: Buffer;
      try {
        inner = inflateSync(bytes.subarray(tag.dataStart, tag.dataStart + tag.nbytes));
      } catch (err) {
        throw new DataFormatError(file, `compressed variable at byte ${pos} does not inflate (truncated or corrupt: ${(err as Error).message})`);
      }
      const r = new Reader(inner, top.littleEndian, file);
      const innerTag = r.tag(0, inner.length, 'compressed variable');
      r.expectType(innerTag, MI.MATRIX, `compressed variable at byte ${pos}`);
      readMatrix(r, innerTag, wanted, found);
    } else if (tag.type === MI.MATRIX) {
      readMatrix(top, tag, wanted, found);
    } else {
      throw new DataFormatError(file, `unsupported top-level element type ${tag.type} at byte ${pos} (expected a matrix, 14, or compressed, 15)`);
    }
    pos = tag.next;
  }
  return found;
}

function readMatrix(r: Reader, tag: Tag, wanted: ReadonlySet<string>, found: Map<string, MatVariable>): void {
  const end = tag.dataStart + tag.nbytes;
  const flagsTag = r.tag(tag.dataStart, end, 'array flags');
  r.expectType(flagsTag, MI.UINT32, 'array flags');
  if (flagsTag.nbytes !== 8) throw new DataFormatError(r.file, `corrupt MAT-file: array flags are ${flagsTag.nbytes} bytes, expected 8`);
  const flags = r.u32(flagsTag.dataStart);
  const mxClass = flags & 0xff;
  const complex = (flags & 0x0800) !== 0;

  const dimsTag = r.tag(flagsTag.next, end, 'dimensions');
  r.expectType(dimsTag, MI.INT32, 'dimensions');
  if (dimsTag.nbytes < 8 || dimsTag.nbytes % 4 !== 0) throw new DataFormatError(r.file, `corrupt MAT-file: dimensions field is ${dimsTag.nbytes} bytes`);
  const dims: number[] = [];
  for (let i = 0; i < dimsTag.nbytes / 4; i++) {
    const d = r.view.getInt32(dimsTag.dataStart + 4 * i, r.littleEndian);
    if (d < 0) throw new DataFormatError(r.file, `corrupt MAT-file: negative dimension ${d}`);
    dims.push(d);
  }

  const nameTag = r.tag(dimsTag.next, end, 'array name');
  r.expectType(nameTag, MI.INT8, 'array name');
  const name = Buffer.from(r.bytes.subarray(nameTag.dataStart, nameTag.dataStart + nameTag.nbytes)).toString('latin1');
  if (!wanted.has(name)) return;

  if (!NUMERIC_CLASSES.has(mxClass)) {
    throw new DataFormatError(r.file, `variable ${name} has MATLAB class ${mxClass}; only real numeric matrices are supported (no cell/struct/char/sparse)`);
  }
  if (complex) throw new DataFormatError(r.file, `variable ${name} is complex; only real matrices are supported`);

  const dataTag = r.tag(nameTag.next, end, `${name} values`);
  const size = ELEMENT_BYTES[dataTag.type];
  if (size === undefined) throw new DataFormatError(r.file, `variable ${name} is stored with unsupported data type ${dataTag.type}`);
  const count = dims.reduce((a, b) => a * b, 1);
  if (dataTag.nbytes !== count * size) {
    throw new DataFormatError(r.file, `variable ${name}: dims [${dims.join('x')}] need ${count * size} bytes of type ${dataTag.type}, the file has ${dataTag.nbytes}`);
  }
  let values: Uint8Array | Float64Array;
  if (dataTag.type === MI.UINT8) {
    values = r.bytes.subarray(dataTag.dataStart, dataTag.dataStart + count);
  } else {
    values = new Float64Array(count);
    const v = r.view;
    const le = r.littleEndian;
    const at = dataTag.dataStart;
    for (let i = 0; i < count; i++) {
      switch (dataTag.type) {
        case MI.INT8: values[i] = v.getInt8(at + i); break;
        case MI.INT16: values[i] = v.getInt16(at + 2 * i, le); break;
        case MI.UINT16: values[i] = v.getUint16(at + 2 * i, le); break;
        case MI.INT32: values[i] = v.getInt32(at + 4 * i, le); break;
        case MI.UINT32: values[i] = v.getUint32(at + 4 * i, le); break;
        case MI.SINGLE: values[i] = v.getFloat32(at + 4 * i, le); break;
        default: values[i] = v.getFloat64(at + 8 * i, le); break;
      }
    }
  }
  found.set(name, { name, mxClass, dims, storage: dataTag.type, values });
}
