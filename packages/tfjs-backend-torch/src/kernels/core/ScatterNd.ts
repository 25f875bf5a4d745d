/**
 * ScatterNd: sums `updates` into a zero tensor of `shape` at `indices` (duplicates add up), one
 * index_add natively; shapes from tfjs's backend_util.calculateShapes. Bool updates use the fallback.
 */
import { ScatterNd, ScatterNdAttrs, TensorInfo, backend_util, util } from '@tensorflow/tfjs-core';

import { runOnCpu } from '../../fallback.js';
import { nativeKernel, run } from '../../kernel_util.js';

export const scatterNdConfig = nativeKernel(ScatterNd, ({ inputs, attrs, backend }) => {
  const { indices, updates } = inputs as unknown as Record<string, TensorInfo>;
  const { shape } = attrs as unknown as ScatterNdAttrs;
  if (updates.dtype === 'bool') return runOnCpu(ScatterNd, inputs, attrs, backend);
  const { sliceRank, numUpdates, sliceSize, strides, outputSize } = backend_util.calculateShapes(updates as never, indices as never, shape);
  if (outputSize === 0 || util.sizeFromShape(shape) === 0) return backend.makeTensorInfo(shape, updates.dtype, []);
  return run(backend, 'scatterNd', backend.handle(indices), backend.handle(updates), sliceRank, numUpdates, sliceSize,
    strides, outputSize, shape);
});
