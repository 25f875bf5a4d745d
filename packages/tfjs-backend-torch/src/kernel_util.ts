/**
 * The one helper vocabulary of every native kernel, core and nn: `nativeKernel` wraps a kernel body
 * so it is counted and so inputs the native side cannot hold (string, complex64) go to the cpu
 * fallback instead; `run` / `runMulti` call one addon function and wrap its result(s) as
 * TensorInfos; `call` / `callMulti` return the raw native results (for deferred kernels).
 */
import { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';

import { TorchBackend, countKernel, isNativeDtype } from './backend.js';
import { runOnCpu } from './fallback.js';
import type { NativeMultiOp, NativeOp, NativeResult, TorchBinding } from './native.js';

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

/**
 * A 'torch' KernelConfig whose body runs natively unless an input is string/complex64. `A` lets a
 * kernel declare its own typed inputs and attrs (as tfjs's kernels do), e.g. `{ inputs: Conv2DInputs; backend: TorchBackend; attrs: Conv2DAttrs }`.
 */
export function nativeKernel<A = Parameters<NativeKernelBody>[0]>(kernelName: string, body: (args: A) => TensorInfo | TensorInfo[]): KernelConfig {
  const kernelFunc: KernelFunc = ({ inputs, attrs, backend }) => {
    const b = backend as TorchBackend;
    if (!allNative(inputs)) {
      countKernel(kernelName, false);
      return runOnCpu(kernelName, inputs, attrs ?? {}, b);
    }
    countKernel(kernelName, true);
    return body({ inputs: inputs as Record<string, TensorInfo> & TensorInfo[], attrs: attrs ?? {}, backend: b } as unknown as A);
  };
  return { kernelName, backendName: 'torch', kernelFunc };
}

type Args<K extends keyof TorchBinding> = TorchBinding[K] extends (...a: infer A) => unknown ? A : never;

function nativeFunction(backend: TorchBackend, fn: string): (...a: unknown[]) => unknown {
  const f = (backend.binding as unknown as Record<string, unknown>)[fn];
  if (typeof f !== 'function') throw new Error(`torch backend: the addon has no function '${fn}' (rebuild with npm run build:native)`);
  return f as (...a: unknown[]) => unknown;
}

/** Calls a native function returning one tensor (names and arguments typed by TorchBinding). */
export function call<K extends NativeOp>(backend: TorchBackend, fn: K, ...args: Args<K>): NativeResult {
  return nativeFunction(backend, fn)(...args) as NativeResult;
}

export function callMulti<K extends NativeMultiOp>(backend: TorchBackend, fn: K, ...args: Args<K>): NativeResult[] {
  return nativeFunction(backend, fn)(...args) as NativeResult[];
}

/** Native call returning one tensor, wrapped as a TensorInfo. */
export function run<K extends NativeOp>(backend: TorchBackend, fn: K, ...args: Args<K>): TensorInfo {
  return backend.fromNative(call(backend, fn, ...args));
}

export function runMulti<K extends NativeMultiOp>(backend: TorchBackend, fn: K, ...args: Args<K>): TensorInfo[] {
  return backend.fromNativeList(callMulti(backend, fn, ...args));
}
