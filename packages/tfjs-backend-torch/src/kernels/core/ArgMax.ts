/** ArgMax: int32 indices (ATen's are int64), first index on ties like tfjs. */
import { ArgMax, ArgMaxAttrs, TensorInfo, util } from '@tensorflow/tfjs-core';

import { nativeKernel, run } from '../../kernel_util.js';

export const argMaxConfig = nativeKernel(ArgMax, ({ inputs, attrs, backend }) => {
  const x = inputs.x as TensorInfo;
  const { axis } = attrs as unknown as ArgMaxAttrs;
  const [ax] = util.parseAxisParam(axis, x.shape);
  return run(backend, 'argReduce', false, backend.handle(x), ax);
});
