/** Test helpers: deterministic synthetic splits (a tiny LCG, independent of the code under test). */
import { deflateSync } from 'node:zlib';
import type { Split } from '../../src/data/types.js';

export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s;
  };
}

export function syntheticSplit(count: number, shape: [number, number, number], numClasses: number, seed = 1): Split {
  const next = lcg(seed);
  const per = shape[0] * shape[1] * shape[2];
  const images = new Uint8Array(count * per);
  for (let i = 0; i < images.length; i++) images[i] = next() >>> 24;
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) labels[i] = i % numClasses;
  return { images, labels, count, imageShape: shape };
}

// ---- Writers of the official formats, written from the format descriptions (not from our readers).


/** IDX bytes: 00 00 08 ndims, big-endian dims, then the values. */
export function idxBytes(dims: number[], values: Uint8Array): Uint8Array {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = 0x08;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, values]);
}

/** CIFAR-10 binary records from NHWC 32x32x3 images: label, R plane, G plane, B plane. */
export function cifarRecords(images: Uint8Array, labels: ArrayLike<number>): Uint8Array {
  const n = labels.length;
  const out = new Uint8Array(n * 3073);
  for (let r = 0; r < n; r++) {
    out[r * 3073] = labels[r]!;
    for (let ch = 0; ch < 3; ch++) {
      for (let p = 0; p < 1024; p++) out[r * 3073 + 1 + ch * 1024 + p] = images[r * 3072 + p * 3 + ch]!;
    }
  }
  return out;
}

const MI_SIZES: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 9: 8 };

/** One MAT-file data element (tag + data + padding to 8); small format when the data fits in 4 bytes. */
export function matElement(type: number, data: Uint8Array, allowSmall = true): Buffer {
  if (allowSmall && data.length <= 4 && type !== 14 && type !== 15) {
    const el = Buffer.alloc(8);
    el.writeUInt32LE(((data.length << 16) | type) >>> 0, 0);
    Buffer.from(data).copy(el, 4);
    return el;
  }
  const padded = Math.ceil(data.length / 8) * 8;
  const el = Buffer.alloc(8 + padded);
  el.writeUInt32LE(type, 0);
  el.writeUInt32LE(data.length, 4);
  Buffer.from(data).copy(el, 8);
  return el;
}

export interface MatVar {
  name: string;
  mxClass: number;
  dims: number[];
  /** MAT data type of the stored values (2 = uint8, 9 = double, ...). */
  storage: number;
  values: ArrayLike<number>;
}

function encodeValues(storage: number, values: ArrayLike<number>): Buffer {
  const size = MI_SIZES[storage]!;
  const buf = Buffer.alloc(values.length * size);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    switch (storage) {
      case 1: buf.writeInt8(v, i); break;
      case 2: buf.writeUInt8(v, i); break;
      case 3: buf.writeInt16LE(v, 2 * i); break;
      case 4: buf.writeUInt16LE(v, 2 * i); break;
      case 5: buf.writeInt32LE(v, 4 * i); break;
      case 6: buf.writeUInt32LE(v, 4 * i); break;
      case 7: buf.writeFloatLE(v, 4 * i); break;
      default: buf.writeDoubleLE(v, 8 * i); break;
    }
  }
  return buf;
}

export function matMatrix(v: MatVar): Buffer {
  const flags = Buffer.alloc(8);
  flags.writeUInt32LE(v.mxClass, 0);
  const dims = Buffer.alloc(4 * v.dims.length);
  v.dims.forEach((d, i) => dims.writeInt32LE(d, 4 * i));
  const body = Buffer.concat([
    matElement(6, flags, false),
    matElement(5, dims, false),
    matElement(1, Buffer.from(v.name, 'latin1')),
    matElement(v.storage, encodeValues(v.storage, v.values)),
  ]);
  return matElement(14, body);
}

/** A Level-5 MAT-file (little-endian) holding `vars`, each zlib-compressed like MATLAB -v7 when `compress`. */
export function matFile(vars: MatVar[], compress = true): Buffer {
  const header = Buffer.alloc(128, 0x20);
  header.write('MATLAB 5.0 MAT-file, Platform: GLNXA64, Created on: Thu Jan 01 00:00:00 2026', 0, 'latin1');
  header.fill(0, 116, 124);
  header.writeUInt16LE(0x0100, 124);
  header.write('IM', 126, 'latin1');
  const parts = vars.map((v) => {
    const m = matMatrix(v);
    if (!compress) return m;
    const z = deflateSync(m);
    const tag = Buffer.alloc(8);
    tag.writeUInt32LE(15, 0);
    tag.writeUInt32LE(z.length, 4);
    return Buffer.concat([tag, z]);
  });
  return Buffer.concat([header, ...parts]);
}

/**
 * SVHN-layout variables from NHWC images: X is 32x32x3xN in column-major order (row index fastest),
 * y is Nx1 with digit 0 stored as 10.
 */
export function svhnVars(images: Uint8Array, digits: ArrayLike<number>, yStorage = 9): MatVar[] {
  const n = digits.length;
  const X = new Uint8Array(n * 3072);
  for (let k = 0; k < n; k++) {
    for (let row = 0; row < 32; row++) {
      for (let col = 0; col < 32; col++) {
        for (let ch = 0; ch < 3; ch++) X[row + 32 * col + 1024 * ch + 3072 * k] = images[k * 3072 + (row * 32 + col) * 3 + ch]!;
      }
    }
  }
  const y = Array.from(digits, (d) => (d === 0 ? 10 : d));
  return [
    { name: 'X', mxClass: 9, dims: [32, 32, 3, n], storage: 2, values: X },
    { name: 'y', mxClass: 6, dims: [n, 1], storage: yStorage, values: y },
  ];
}

export function randomBytes(n: number, seed: number): Uint8Array {
  const next = lcg(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = next() >>> 24;
  return out;
}
