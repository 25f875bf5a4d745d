/** Tile: at::repeat with tfjs's reps. */
import { TensorInfo, Tile, TileAttrs } from '@tensorflow/tfjs-core';

import { nativeKernel, run } from '../../kernel_util.js';

export const tileConfig = nativeKernel(Tile, ({ inputs, attrs, backend }) => {
  const x = inputs.x as TensorInfo;
  const { reps } = attrs as unknown as TileAttrs;
  return run(backend, 'tile', backend.handle(x), reps);
});
