/** OneHot: out-of-range indices (e.g. -1) give an all-off row, as in tfjs (at::one_hot throws). */
import { OneHot, OneHotAttrs, TensorInfo } from '@tensorflow/tfjs-core';

import { nativeKernel, run } from '../../kernel_util.js';
import { dtypeCode } from './ops.js';

export const oneHotConfig = nativeKernel(OneHot, ({ inputs, attrs, backend }) => {
  const indices = inputs.indices as TensorInfo;
  const { depth, onValue, offValue, dtype } = attrs as unknown as OneHotAttrs;
  return run(backend, 'oneHot', backend.handle(indices), depth, onValue, offValue, dtypeCode(dtype));
});
