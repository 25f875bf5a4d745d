/** PadV2: constant padding (ATen's pad list is reversed per dim natively). */
import { PadV2, PadV2Attrs, TensorInfo } from '@tensorflow/tfjs-core';

import { nativeKernel, run } from '../../kernel_util.js';

export const padV2Config = nativeKernel(PadV2, ({ inputs, attrs, backend }) => {
  const x = inputs.x as TensorInfo;
  const { paddings, constantValue } = attrs as unknown as PadV2Attrs;
  return run(backend, 'pad', backend.handle(x), paddings.flat(), constantValue);
});
