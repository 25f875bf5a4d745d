/** Reverse: at::flip over the normalised axes. */
import { Reverse, ReverseAttrs, TensorInfo, util } from '@tensorflow/tfjs-core';

import { nativeKernel, run } from '../../kernel_util.js';

export const reverseConfig = nativeKernel(Reverse, ({ inputs, attrs, backend }) => {
  const x = inputs.x as TensorInfo;
  const { dims } = attrs as unknown as ReverseAttrs;
  const axes = x.shape.length === 0 ? [] : util.parseAxisParam(dims, x.shape);
  return run(backend, 'reverse', backend.handle(x), axes);
});
