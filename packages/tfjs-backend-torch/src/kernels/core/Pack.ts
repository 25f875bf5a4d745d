/** Pack (tf.stack) along a new axis. */
import { Pack, PackAttrs, TensorInfo, util } from '@tensorflow/tfjs-core';

import { nativeKernel, run } from '../../kernel_util.js';
import { dtypeCode } from './ops.js';

export const packConfig = nativeKernel(Pack, ({ inputs, attrs, backend }) => {
  const xs = inputs as unknown as TensorInfo[];
  const { axis } = attrs as unknown as PackAttrs;
  const rank = xs[0].shape.length;
  for (const t of xs) {
    util.assertShapesMatch(xs[0].shape, t.shape, 'All tensors passed to stack must have matching shapes');
    util.assert(t.dtype === xs[0].dtype, () => 'All tensors passed to stack must have matching dtypes');
  }
  const $axis = axis < 0 ? axis + rank + 1 : axis;
  util.assert($axis >= 0 && $axis <= rank, () => `Pack: axis ${axis} out of range for rank ${rank}`);
  return run(backend, 'stack', xs.map((t) => backend.handle(t)), $axis, dtypeCode(xs[0].dtype));
});
