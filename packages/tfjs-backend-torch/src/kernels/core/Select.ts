/** Select(condition, t, e); a rank-1 condition picks along dim 0 of t (tfjs's rule). */
import { Select, TensorInfo, backend_util } from '@tensorflow/tfjs-core';

import { nativeKernel, run } from '../../kernel_util.js';
import { dtypeCode } from './ops.js';

export const selectConfig = nativeKernel(Select, ({ inputs, backend }) => {
  const { condition, t, e } = inputs as unknown as Record<string, TensorInfo>;
  const dtype = backend_util.upcastType(t.dtype, e.dtype);
  return run(backend, 'select', backend.handle(condition), backend.handle(t), backend.handle(e), dtypeCode(dtype));
});
