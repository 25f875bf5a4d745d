/**
 * Range: computed with the cpu backend's own rangeImpl (a running float32 sum, which a native
 * start + i*step would not reproduce bit for bit) and stored lazily like any JS-written tensor.
 */
import { Range, RangeAttrs } from '@tensorflow/tfjs-core';
import { shared } from '@tensorflow/tfjs-backend-cpu';

import { nativeKernel } from '../../kernel_util.js';

export const rangeConfig = nativeKernel(Range, ({ attrs, backend }) => {
  const { start, stop, step, dtype } = attrs as unknown as RangeAttrs;
  const values = shared.rangeImpl(start, stop, step, dtype);
  return backend.makeTensorInfo([values.length], dtype, values);
});
