/** Reshape: a zero-copy ATen view under a new handle (a -1 in `shape` is inferred like tfjs); a deferred input gives a deferred result. */
import { Reshape, ReshapeAttrs, TensorInfo, util } from '@tensorflow/tfjs-core';

import { call, nativeKernel, run } from '../../kernel_util.js';

export const reshapeConfig = nativeKernel(Reshape, ({ inputs, attrs, backend }) => {
  const x = inputs.x as TensorInfo;
  const { shape } = attrs as unknown as ReshapeAttrs;
  const size = util.sizeFromShape(x.shape);
  const $shape = util.inferFromImplicitShape(shape, size);
  const $size = util.sizeFromShape($shape);
  util.assert(size === $size, () => `The new shape (${$shape}) has ${$size} elements and the old shape (${x.shape}) has ${size} elements. The new shape and old shape must have the same number of elements.`);
  // A deferred input (an unread gradient) stays deferred under its reshape.
  if (backend.isPending(x)) return backend.deferred($shape, x.dtype, [x], ([h]) => call(backend, 'reshape', h!, $shape));
  return run(backend, 'reshape', backend.handle(x), $shape);
});
