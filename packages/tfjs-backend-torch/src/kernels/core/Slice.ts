/** Slice: begin/size normalised by slice_util.parseSliceParams (size -1 = to the end). */
import { Slice, SliceAttrs, TensorInfo, slice_util } from '@tensorflow/tfjs-core';

import { nativeKernel, run } from '../../kernel_util.js';

export const sliceConfig = nativeKernel(Slice, ({ inputs, attrs, backend }) => {
  const x = inputs.x as TensorInfo;
  const { begin, size } = attrs as unknown as SliceAttrs;
  const [$begin, $size] = slice_util.parseSliceParams(x as never, begin, size);
  slice_util.assertParamsValid(x as never, $begin, $size);
  return run(backend, 'slice', backend.handle(x), $begin, $size);
});
