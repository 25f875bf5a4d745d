/** FlipLeftRight: reverse the width axis of an NHWC batch (flip augmentation). */
import { FlipLeftRight, TensorInfo } from '@tensorflow/tfjs-core';

import { nativeKernel, run } from '../../kernel_util.js';

export const flipLeftRightConfig = nativeKernel(FlipLeftRight, ({ inputs, backend }) => {
  const image = inputs.image as TensorInfo;
  return run(backend, 'reverse', backend.handle(image), [2]);
});
