/** ArgMin: int32 indices (ATen's are int64), first index on ties like tfjs. */
import { ArgMin, ArgMinAttrs, TensorInfo, util } from '@tensorflow/tfjs-core';

import { nativeKernel, run } from '../../kernel_util.js';

export const argMinConfig = nativeKernel(ArgMin, ({ inputs, attrs, backend }) => {
  const x = inputs.x as TensorInfo;
  const { axis } = attrs as unknown as ArgMinAttrs;
  const [ax] = util.parseAxisParam(axis, x.shape);
  return run(backend, 'argReduce', true, backend.handle(x), ax);
});
