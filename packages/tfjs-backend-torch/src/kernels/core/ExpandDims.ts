/** ExpandDims: a reshape inserting a 1 (tfjs's own rule for the axis, including negative ones). */
import { ExpandDims, ExpandDimsAttrs, TensorInfo, util } from '@tensorflow/tfjs-core';

import { nativeKernel, run } from '../../kernel_util.js';

export const expandDimsConfig = nativeKernel(ExpandDims, ({ inputs, attrs, backend }) => {
  const input = inputs.input as TensorInfo;
  const { dim } = attrs as unknown as ExpandDimsAttrs;
  const rank = input.shape.length;
  let $dim = dim;
  if (dim < 0) {
    util.assert(-(rank + 1) <= dim, () => `Axis must be in the interval [${-(rank + 1)}, ${rank}]`);
    $dim = rank + dim + 1;
  }
  const shape = input.shape.slice();
  shape.splice($dim, 0, 1);
  return run(backend, 'reshape', backend.handle(input), shape);
});
