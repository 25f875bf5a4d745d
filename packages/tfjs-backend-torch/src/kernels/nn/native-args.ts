/**
 * What the nn kernels convert before calling the addon: tfjs's padding info as the native
 * [top, bottom, left, right], optional inputs as a handle or -1, and fused-activation names as the
 * addon's codes. The calls themselves go through kernel_util.ts (`nativeKernel`, `run`, `runMulti`),
 * the one helper vocabulary of every kernel, core and nn alike.
 */
import type { backend_util, TensorInfo } from '@tensorflow/tfjs-core';

import type { TorchBackend } from '../../backend.js';
import { ACTIVATION } from '../core/ops.js';

/** Handle of an optional input, or -1 (native: absent). */
export function maybeHandle(backend: TorchBackend, t: TensorInfo | null | undefined): number {
  return t == null ? -1 : backend.handle(t);
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
