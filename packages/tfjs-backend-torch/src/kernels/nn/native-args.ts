/**
 * Glue between the nn kernels and the backend: the native entry points of ops_conv.cc,
 * ops_pool.cc and ops_nn.cc, and the conversions between tfjs TensorInfos and native handles.
 * Every kernel file in this folder goes through these helpers only, so the kernels read like
 * tfjs-node's: normalise attributes with tfjs's own helpers, call one native function, return.
 */
import type { backend_util, KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';

import type { TorchBackend } from '../../backend.js';
import type { NativeResult, TorchBinding } from '../../native.js';
import { ACTIVATION } from '../core/ops.js';
import { nativeKernel, type NativeKernelBody } from '../../kernel_util.js';

/** The backend as the nn kernels see it. */
export type TorchBackendLike = TorchBackend;

/** The addon, checked to have its nn functions (the nn* members of TorchBinding). */
export function nn(backend: TorchBackend): TorchBinding {
  if (!backend.binding.hasNnOps) {
    throw new Error('torch backend: the addon was built without native/ops_nn.cc (rebuild with npm run build:native)');
  }
  return backend.binding;
}

/** Native handle of an input (uploads lazily-held JS values on first use). */
export function handle(backend: TorchBackend, t: TensorInfo): number {
  return backend.handle(t);
}

/** Handle of an optional input, or -1 (native: absent). */
export function maybeHandle(backend: TorchBackend, t: TensorInfo | null | undefined): number {
  return t == null ? -1 : backend.handle(t);
}

export function result(backend: TorchBackend, r: NativeResult): TensorInfo {
  return backend.fromNative(r);
}

/** tfjs's padInfo as the native [top, bottom, left, right]. */
export function padList(info: backend_util.Conv2DInfo): number[] {
  const p = info.padInfo;
  return [p.top, p.bottom, p.left, p.right];
}

/** tfjs's fused-activation names -> the addon's codes (native/op_codes.h TT_ACTIVATIONS). */
const ACTIVATION_CODES: Record<string, number> = Object.fromEntries(
  Object.entries(ACTIVATION).map(([name, code]) => [name.toLowerCase(), code]));
export const ACTIVATION_LINEAR = ACTIVATION.Linear;

export function activationCode(activation: string | undefined | null): number {
  const name = activation ?? 'linear';
  const code = ACTIVATION_CODES[name];
  if (code === undefined) {
    throw new Error(`torch backend: unknown fused activation '${name}' (expected one of ${Object.keys(ACTIVATION_CODES).join(', ')})`);
  }
  return code;
}

/** A native nn kernel config (counted, with the cpu fallback for non-native dtypes). */
export function nnKernel<A>(kernelName: string, body: (args: A) => TensorInfo | TensorInfo[]): KernelConfig {
  return nativeKernel(kernelName, body as unknown as NativeKernelBody);
}
