/**
 * Factory for the reduction kernels (native/ops_reduce.cc). Axes are normalised with tfjs's
 * parseAxisParam: `null`/`undefined` means every axis, while an explicit `[]` means *no* reduction
 * in tfjs (ATen would reduce everything: guide §4.2), which the native side honours.
 */
import { KernelConfig, TensorInfo, util } from '@tensorflow/tfjs-core';

import { nativeKernel, run } from '../../kernel_util.js';

export { REDUCE } from './ops.js';

/** The axes a reduction's attribute names: every axis for null/undefined, else tfjs's normalisation. */
export function reductionAxes(axis: number | number[] | null | undefined, shape: readonly number[]): number[] {
  return axis == null ? shape.map((_, i) => i) : util.parseAxisParam(axis, shape as number[]);
}

export function reduceKernel(kernelName: string, op: number, axisAttr: string): KernelConfig {
  return nativeKernel(kernelName, ({ inputs, attrs, backend }) => {
    const x = inputs.x as TensorInfo;
    const a = attrs as Record<string, unknown>;
    const axis = a[axisAttr] as number | number[] | null | undefined;
    return run(backend, 'reduce', op, backend.handle(x), reductionAxes(axis, x.shape), Boolean(a.keepDims));
  });
}
