/** Softmax along `dim` (tfjs passes -1 from layers' activation). */
import { Softmax, SoftmaxAttrs, TensorInfo, util } from '@tensorflow/tfjs-core';

import { nativeKernel, run } from '../../kernel_util.js';

export const softmaxConfig = nativeKernel(Softmax, ({ inputs, attrs, backend }) => {
  const logits = inputs.logits as TensorInfo;
  const { dim } = attrs as unknown as SoftmaxAttrs;
  const [ax] = util.parseAxisParam(dim, logits.shape);
  return run(backend, 'softmax', backend.handle(logits), ax);
});
