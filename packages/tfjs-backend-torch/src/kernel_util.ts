/**
 * Shared glue for native kernels (core and nn): wrap a kernel body so it is counted, and so inputs
 * the native side cannot hold (string, complex64) go to the cpu fallback instead.
 */
import { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';

import { TorchBackend, countKernel, isNativeDtype } from './backend.js';
import { runOnCpu } from './fallback.js';
import type { NativeResult } from './native.js';

export type NativeKernelBody = (args: {
  inputs: Record<string, TensorInfo> & TensorInfo[];
  attrs: NamedAttrMap;
  backend: TorchBackend;
}) => TensorInfo | TensorInfo[];

function allNative(x: unknown): boolean {
  if (x === null || x === undefined) return true;
  if (Array.isArray(x)) return x.every(allNative);
  if (typeof x === 'object') {
    if ('dataId' in (x as object) && 'dtype' in (x as object)) return isNativeDtype((x as TensorInfo).dtype);
    return Object.values(x as object).every(allNative);
  }
  return true;
}

/** A 'torch' KernelConfig whose body runs natively unless an input is string/complex64. */
export function nativeKernel(kernelName: string, body: NativeKernelBody): KernelConfig {
  const kernelFunc: KernelFunc = ({ inputs, attrs, backend }) => {
    const b = backend as TorchBackend;
    if (!allNative(inputs)) {
      countKernel(kernelName, false);
      return runOnCpu(kernelName, inputs, attrs ?? {}, b);
    }
    countKernel(kernelName, true);
    return body({ inputs: inputs as Record<string, TensorInfo> & TensorInfo[], attrs: attrs ?? {}, backend: b });
  };
  return { kernelName, backendName: 'torch', kernelFunc };
}

/** Calls a native function of the addon by name (its families are typed where used). */
export function call(backend: TorchBackend, fn: string, ...args: unknown[]): NativeResult {
  const f = backend.binding[fn] as ((...a: unknown[]) => NativeResult) | undefined;
  if (typeof f !== 'function') throw new Error(`torch backend: the addon has no function '${fn}' (rebuild with npm run build:native)`);
  return f(...args);
}

export function callMulti(backend: TorchBackend, fn: string, ...args: unknown[]): NativeResult[] {
  return call(backend, fn, ...args) as unknown as NativeResult[];
}

/** Native call returning one tensor, wrapped as a TensorInfo. */
export function run(backend: TorchBackend, fn: string, ...args: unknown[]): TensorInfo {
  return backend.fromNative(call(backend, fn, ...args));
}

export function runMulti(backend: TorchBackend, fn: string, ...args: unknown[]): TensorInfo[] {
  return backend.fromNativeList(callMulti(backend, fn, ...args));
}
