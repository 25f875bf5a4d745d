/** Transpose: permute, then made contiguous (the storage invariant of native/context.h). */
import { TensorInfo, Transpose, TransposeAttrs } from '@tensorflow/tfjs-core';

import { nativeKernel, run } from '../../kernel_util.js';

export const transposeConfig = nativeKernel(Transpose, ({ inputs, attrs, backend }) => {
  const x = inputs.x as TensorInfo;
  const { perm } = attrs as unknown as TransposeAttrs;
  return run(backend, 'transpose', backend.handle(x), perm);
});
