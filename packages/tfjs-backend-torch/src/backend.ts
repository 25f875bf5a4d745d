/**
 * `TorchBackend`: a tfjs `KernelBackend` whose tensors are ATen tensors held by the native handle
 * table (native/storage.cc). Guide §1.2 and §1.6 give the contract this follows.
 *
 * Storage: one `DataStorage` entry per tfjs dataId, `{handle, values, shape, dtype, refCount}`.
 * Uploads are lazy, like tfjs-node: `write()` keeps the JS values and the ATen tensor is made the
 * first time a native kernel needs it, after which the JS copy is dropped. string and complex64
 * data never go native: it stays in JS and every kernel touching it runs on the cpu fallback.
 */
import {
  BackendTimingInfo, BackendValues, DataId, DataStorage, DataType, KernelBackend, TensorInfo, engine, util,
} from '@tensorflow/tfjs-core';

import { CODE_DTYPE, CudaMemoryInfo, DTYPE_CODE, NativeResult, TorchBinding } from './native.js';

export interface TorchTensorData {
  /** Native handle, or -1 while the data is only in `values`. */
  handle: number;
  values: BackendValues | null;
  shape: number[];
  dtype: DataType;
  refCount: number;
  /** A deferred result (see `deferred()`): computed on first use, dropped unused on dispose. */
  pending?: PendingResult;
}

/**
 * What a deferred result needs: its computation and the inputs it keeps alive, each either a
 * retained native handle or, for an input that is itself deferred, that input's data (one extra
 * reference), resolved only when this result is.
 */
interface PendingResult {
  compute: (inputs: number[]) => NativeResult;
  retained: (number | TensorInfo)[];
}

/** What `memory()` adds to the engine's own counters. */
export interface TorchMemoryInfo {
  unreliable: boolean;
  reasons?: string[];
  /** Live ATen tensors in the process's handle table (all backend instances). */
  numNativeTensors: number;
  /** Bytes of those tensors, each storage counted once. */
  nativeBytes: number;
  /** On CUDA: what PyTorch's caching allocator holds (reserved >= allocated; see emptyCache()). */
  gpu?: CudaMemoryInfo;
}

const NATIVE_DTYPES = new Set<DataType>(['float32', 'int32', 'bool']);

/** Process-wide counts of kernel calls that ran natively vs on the cpu fallback (all instances). */
export const kernelStats = { native: 0, fallback: 0, fallbackByKernel: new Map<string, number>() };

export function countKernel(kernelName: string, native: boolean): void {
  if (native) {
    kernelStats.native++;
  } else {
    kernelStats.fallback++;
    kernelStats.fallbackByKernel.set(kernelName, (kernelStats.fallbackByKernel.get(kernelName) ?? 0) + 1);
  }
}

export function isNativeDtype(dtype: DataType): boolean {
  return NATIVE_DTYPES.has(dtype);
}

export class TorchBackend extends KernelBackend {
  readonly binding: TorchBinding;
  readonly data: DataStorage<TorchTensorData>;
  /** Handles owned by this instance, so `dispose()` can free them all (guide §7d). */
  private readonly handles = new Set<number>();
  private disposed = false;

  constructor(binding: TorchBinding) {
    super();
    this.binding = binding;
    this.data = new DataStorage<TorchTensorData>(this, engine());
  }

  // ---- storage contract ----------------------------------------------------------------------

  override write(values: BackendValues, shape: number[], dtype: DataType): DataId {
    const dataId = {};
    this.move(dataId, values, shape, dtype, 1);
    return dataId;
  }

  override move(dataId: DataId, values: BackendValues, shape: number[], dtype: DataType, refCount: number): void {
    this.data.set(dataId, { handle: -1, values, shape, dtype, refCount });
  }

  /** Like the cpu backend's: write, then wrap as a TensorInfo (strings given as JS strings are encoded). */
  makeTensorInfo(shape: number[], dtype: DataType, values?: BackendValues | string[]): TensorInfo {
    let vals: BackendValues;
    if (values === undefined) {
      vals = util.getTypedArrayFromDType(dtype as 'float32', util.sizeFromShape(shape)) as BackendValues;
    } else if (dtype === 'string' && values.length > 0 && typeof (values as unknown[])[0] === 'string') {
      vals = (values as string[]).map((s) => util.encodeString(s));
    } else {
      vals = values as BackendValues;
    }
    return { dataId: this.write(vals, shape, dtype), shape, dtype };
  }

  disposeIntermediateTensorInfo(info: TensorInfo): void {
    this.disposeData(info.dataId);
  }

  override readSync(dataId: DataId): BackendValues {
    const d = this.data.get(dataId);
    if (d === undefined) throw new Error('torch backend: readSync of an unknown (disposed?) tensor');
    if (d.values !== null) return d.values;
    if (d.pending !== undefined) this.resolve(d);
    return this.binding.toTyped(d.handle);
  }

  override async read(dataId: DataId): Promise<BackendValues> {
    return this.readSync(dataId);
  }

  override disposeData(dataId: DataId, force = false): boolean {
    if (!this.data.has(dataId)) return true;
    const d = this.data.get(dataId)!;
    d.refCount--;
    if (!force && d.refCount > 0) return false;
    if (d.handle >= 0) this.freeHandle(d.handle);
    if (d.pending !== undefined) this.releasePending(d);
    this.data.delete(dataId);
    return true;
  }

  override refCount(dataId: DataId): number {
    return this.data.has(dataId) ? this.data.get(dataId)!.refCount : 0;
  }

  override incRef(dataId: DataId): void {
    const d = this.data.get(dataId);
    if (d !== undefined) d.refCount++;
  }

  override numDataIds(): number {
    return this.data.numDataIds();
  }

  override memory(): TorchMemoryInfo {
    const info: TorchMemoryInfo = { unreliable: false, numNativeTensors: this.binding.count(), nativeBytes: this.binding.nativeBytes() };
    const gpu = this.binding.cudaMemory();
    if (gpu !== null) info.gpu = gpu;
    return info;
  }

  /** Native handles this instance owns (for leak checks: equals the uploaded entries). */
  numNativeHandles(): number {
    return this.handles.size;
  }

  override async time(f: () => void): Promise<BackendTimingInfo> {
    this.binding.synchronize();
    const start = process.hrtime.bigint();
    f();
    this.binding.synchronize();
    return { kernelMs: Number(process.hrtime.bigint() - start) / 1e6 };
  }

  override floatPrecision(): 16 | 32 {
    return 32;
  }

  override epsilon(): number {
    return super.epsilon();
  }

  override dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const h of this.handles) this.binding.free(h);
    this.handles.clear();
  }

  // ---- helpers for kernels --------------------------------------------------------------------

  /** The native handle of a tensor, uploading its JS values on first use. */
  handle(info: TensorInfo): number {
    const d = this.data.get(info.dataId);
    if (d === undefined) throw new Error('torch backend: kernel input is not a live tensor');
    if (d.handle >= 0) return d.handle;
    if (d.pending !== undefined) return this.resolve(d);
    if (!isNativeDtype(d.dtype)) {
      throw new Error(`torch backend: dtype '${d.dtype}' has no native storage (this kernel should have used the fallback)`);
    }
    const values = d.values as Float32Array | Int32Array | Uint8Array;
    d.handle = this.binding.fromTyped(values, d.shape, DTYPE_CODE[d.dtype as keyof typeof DTYPE_CODE]);
    this.handles.add(d.handle);
    d.values = null; // the native copy is authoritative now (tfjs data is immutable)
    return d.handle;
  }

  /** The JS values of a tensor when it has not been uploaded yet (cheap scalar paths), else null. */
  jsValues(info: TensorInfo): BackendValues | null {
    const d = this.data.get(info.dataId);
    return d === undefined ? null : d.values;
  }

  /** Wraps a native result `[handle, dtype, rank, ...shape]` as a new TensorInfo (refCount 1). */
  fromNative(r: NativeResult): TensorInfo {
    const handle = r[0];
    const dtype = CODE_DTYPE[r[1]];
    const rank = r[2];
    const shape: number[] = new Array(rank);
    for (let i = 0; i < rank; i++) shape[i] = r[3 + i];
    this.handles.add(handle);
    const dataId = {};
    this.data.set(dataId, { handle, values: null, shape, dtype, refCount: 1 });
    return { dataId, shape, dtype };
  }

  fromNativeList(rs: NativeResult[]): TensorInfo[] {
    return rs.map((r) => this.fromNative(r));
  }

  /**
   * A result that is computed only when something consumes it (a kernel input, a read). Used where
   * tfjs computes gradients nobody asked for: its fused conv2d gradient always returns the filter
   * gradient, which an attack (gradient w.r.t. the input only) then throws away unread, about a
   * third of the backward pass. The inputs are retained natively, so tfjs may dispose them first.
   * `compute` must return a tensor of exactly `shape` and `dtype`.
   */
  deferred(shape: number[], dtype: DataType, inputs: TensorInfo[], compute: (handles: number[]) => NativeResult): TensorInfo {
    const retained = inputs.map((i): number | TensorInfo => {
      if (this.isPending(i)) {
        // A deferred input stays deferred: a chain (the bias gradient's Sum, then its Reshape)
        // costs nothing until something reads its end.
        this.incRef(i.dataId);
        return { dataId: i.dataId, shape: i.shape, dtype: i.dtype };
      }
      const h = this.binding.retain(this.handle(i));
      this.handles.add(h);
      return h;
    });
    const dataId = {};
    this.data.set(dataId, { handle: -1, values: null, shape, dtype, refCount: 1, pending: { compute, retained } });
    return { dataId, shape, dtype };
  }

  /** Whether a tensor is a deferred result not computed yet (see `deferred()`). */
  isPending(info: TensorInfo): boolean {
    return this.data.get(info.dataId)?.pending !== undefined;
  }

  private resolve(d: TorchTensorData): number {
    const p = d.pending!;
    const r = p.compute(p.retained.map((x) => (typeof x === 'number' ? x : this.handle(x))));
    this.releasePending(d);
    const rank = r[2];
    const shapeOk = rank === d.shape.length && d.shape.every((n, i) => n === r[3 + i]);
    if (!shapeOk || CODE_DTYPE[r[1]] !== d.dtype) {
      this.binding.free(r[0]);
      throw new Error(`torch backend: a deferred result came back as ${CODE_DTYPE[r[1]]}[${Array.from(r.subarray(3, 3 + rank))}], expected ${d.dtype}[${d.shape}]`);
    }
    d.handle = r[0];
    this.handles.add(d.handle);
    return d.handle;
  }

  private releasePending(d: TorchTensorData): void {
    for (const x of d.pending!.retained) {
      if (typeof x === 'number') this.freeHandle(x);
      else this.disposeData(x.dataId);
    }
    d.pending = undefined;
  }

  /** Same dataId, one more reference: Identity and same-dtype Cast (guide §1.6.3). */
  alias(info: TensorInfo): TensorInfo {
    this.incRef(info.dataId);
    return { dataId: info.dataId, shape: info.shape, dtype: info.dtype };
  }

  private freeHandle(h: number): void {
    if (this.handles.delete(h)) this.binding.free(h);
  }
}
