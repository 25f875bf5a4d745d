/**
 * StridedSlice: all masks resolved by tfjs's slice_util.sliceInfo; the native side takes
 * `finalShapeSparse[d]` elements of dim d from begin[d] in steps of strides[d] (negative steps
 * via flip), then reshapes to finalShape: the same walk as the cpu backend's stridedSliceImpl.
 */
import { StridedSlice, StridedSliceAttrs, TensorInfo, slice_util, util } from '@tensorflow/tfjs-core';

import { nativeKernel, run } from '../../kernel_util.js';

export const stridedSliceConfig = nativeKernel(StridedSlice, ({ inputs, attrs, backend }) => {
  const x = inputs.x as TensorInfo;
  const { begin, end, strides, beginMask, endMask, ellipsisMask, newAxisMask, shrinkAxisMask } =
    attrs as unknown as StridedSliceAttrs;
  const info = slice_util.sliceInfo(x.shape, begin, end, strides, beginMask, endMask, ellipsisMask, newAxisMask, shrinkAxisMask);
  if (info.isIdentity) return run(backend, 'reshape', backend.handle(x), info.finalShape);
  if (util.sizeFromShape(info.finalShape) === 0) return backend.makeTensorInfo(info.finalShape, x.dtype, []);
  if (info.sliceDim0 || info.isSimpleSlice) {
    // A contiguous slice (the cpu kernel's Slice + Reshape path): unit steps over computeOutShape.
    const size = slice_util.computeOutShape(info.begin, info.end, info.strides);
    return run(backend, 'stridedSlice', backend.handle(x), info.begin, size.map(() => 1), size, info.finalShape);
  }
  return run(backend, 'stridedSlice', backend.handle(x), info.begin, info.strides, info.finalShapeSparse, info.finalShape);
});
