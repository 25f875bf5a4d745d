/** TopK along the last axis: [values, int32 indices], ties ordered by index as in tfjs. */
import { TensorInfo, TopK, TopKAttrs } from '@tensorflow/tfjs-core';

import { nativeKernel, runMulti } from '../../kernel_util.js';

export const topKConfig = nativeKernel(TopK, ({ inputs, attrs, backend }) => {
  const x = inputs.x as TensorInfo;
  const { k } = attrs as unknown as TopKAttrs;
  return runMulti(backend, 'topk', backend.handle(x), k);
});
