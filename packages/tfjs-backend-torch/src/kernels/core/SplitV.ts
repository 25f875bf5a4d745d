/** SplitV: sizes resolved by backend_util.prepareSplitSize (a count or a list with one -1). */
import { SplitV, SplitVAttrs, TensorInfo, backend_util, util } from '@tensorflow/tfjs-core';

import { nativeKernel, runMulti } from '../../kernel_util.js';

export const splitVConfig = nativeKernel(SplitV, ({ inputs, attrs, backend }) => {
  const x = inputs.x as TensorInfo;
  const { numOrSizeSplits, axis } = attrs as unknown as SplitVAttrs;
  const $axis = util.parseAxisParam(axis, x.shape)[0];
  const sizes = backend_util.prepareSplitSize(x as never, numOrSizeSplits, $axis);
  return runMulti(backend, 'split', backend.handle(x), sizes, $axis);
});
