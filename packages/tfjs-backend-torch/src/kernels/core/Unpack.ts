/** Unpack (tf.unstack): one contiguous tensor per index along the axis. */
import { TensorInfo, Unpack, UnpackAttrs } from '@tensorflow/tfjs-core';

import { nativeKernel, runMulti } from '../../kernel_util.js';

export const unpackConfig = nativeKernel(Unpack, ({ inputs, attrs, backend }) => {
  const value = inputs.value as TensorInfo;
  const { axis } = attrs as unknown as UnpackAttrs;
  return runMulti(backend, 'unstack', backend.handle(value), axis < 0 ? axis + value.shape.length : axis);
});
