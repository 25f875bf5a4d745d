/** MirrorPad: 'reflect' (edge not repeated) or 'symmetric' (edge repeated), any rank. */
import { MirrorPad, MirrorPadAttrs, TensorInfo } from '@tensorflow/tfjs-core';

import { nativeKernel, run } from '../../kernel_util.js';

export const mirrorPadConfig = nativeKernel(MirrorPad, ({ inputs, attrs, backend }) => {
  const x = inputs.x as TensorInfo;
  const { paddings, mode } = attrs as unknown as MirrorPadAttrs;
  return run(backend, 'mirrorPad', backend.handle(x), paddings.flat(), mode === 'symmetric');
});
