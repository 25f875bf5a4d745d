/** ClipByValue: clamp to [clipValueMin, clipValueMax]; NaN stays NaN like tfjs. */
import { ClipByValue, ClipByValueAttrs, TensorInfo } from '@tensorflow/tfjs-core';

import { nativeKernel, run } from '../../kernel_util.js';

export const clipByValueConfig = nativeKernel(ClipByValue, ({ inputs, attrs, backend }) => {
  const x = inputs.x as TensorInfo;
  const { clipValueMin, clipValueMax } = attrs as unknown as ClipByValueAttrs;
  return run(backend, 'clip', backend.handle(x), clipValueMin, clipValueMax);
});
