/** Concat along an axis; empty inputs are dropped like the cpu kernel does. */
import { Concat, ConcatAttrs, TensorInfo, backend_util, util } from '@tensorflow/tfjs-core';

import { nativeKernel, run } from '../../kernel_util.js';
import { dtypeCode } from './ops.js';

export const concatConfig = nativeKernel(Concat, ({ inputs, attrs, backend }) => {
  const xs = inputs as unknown as TensorInfo[];
  const { axis } = attrs as unknown as ConcatAttrs;
  const $axis = util.parseAxisParam(axis, xs[0].shape)[0];
  const shapes = xs.map((t) => t.shape);
  backend_util.assertParamsConsistent(shapes, $axis);
  const outShape = backend_util.computeOutShape(shapes, $axis);
  const dtype = xs.map((t) => t.dtype).reduce((a, b) => backend_util.upcastType(a, b));
  if (util.sizeFromShape(outShape) === 0) return backend.makeTensorInfo(outShape, dtype, []);
  const nonEmpty = xs.filter((t) => util.sizeFromShape(t.shape) > 0);
  return run(backend, 'concat', nonEmpty.map((t) => backend.handle(t)), $axis, dtypeCode(dtype));
});
