/**
 * Factory for the reduction kernels (native/ops_reduce.cc). Axes are normalised with tfjs's
 * parseAxisParam: `null`/`undefined` means every axis, while an explicit `[]` means *no* reduction
 * in tfjs (ATen would reduce everything: guide §4.2), which the native side honours.
 */
import { KernelConfig, TensorInfo, util } from '@tensorflow/tfjs-core';

import { nativeKernel, run } from '../../kernel_util.js';

export { REDUCE } from './ops.js';

export function reduceKernel(kernelName: string, op: number, axisAttr: string): KernelConfig {
  return nativeKernel(kernelName, ({ inputs, attrs, backend }) => {
    const x = inputs.x as TensorInfo;
    const a = attrs as Record<string, unknown>;
    const axis = a[axisAttr] as number | number[] | null | undefined;
    const axes = axis == null ? x.shape.map((_, i) => i) : util.parseAxisParam(axis, x.shape);
    return run(backend, 'reduce', op, backend.handle(x), axes, Boolean(a.keepDims));
  });
}
