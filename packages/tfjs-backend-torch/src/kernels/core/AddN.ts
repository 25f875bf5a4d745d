/** AddN: sum of an array of same-shape tensors. */
import { AddN, TensorInfo, backend_util } from '@tensorflow/tfjs-core';

import { nativeKernel, run } from '../../kernel_util.js';
import { dtypeCode } from './ops.js';

export const addNConfig = nativeKernel(AddN, ({ inputs, backend }) => {
  const xs = inputs as unknown as TensorInfo[];
  const dtype = xs.map((t) => t.dtype).reduce((a, b) => backend_util.upcastType(a, b));
  return run(backend, 'addN', xs.map((t) => backend.handle(t)), dtypeCode(dtype));
});
