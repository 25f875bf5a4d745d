/** Cumprod with tfjs's exclusive/reverse options; int32/bool accumulate to int32. */
import { Cumprod, CumprodAttrs, TensorInfo, util } from '@tensorflow/tfjs-core';

import { nativeKernel, run } from '../../kernel_util.js';

export const cumprodConfig = nativeKernel(Cumprod, ({ inputs, attrs, backend }) => {
  const x = inputs.x as TensorInfo;
  const { axis, exclusive, reverse } = attrs as unknown as CumprodAttrs;
  const [ax] = util.parseAxisParam(axis, x.shape);
  return run(backend, 'cumulative', backend.handle(x), ax, Boolean(exclusive), Boolean(reverse), true);
});
