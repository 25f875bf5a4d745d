/**
 * GatherV2 with batchDims: shapes from tfjs's collectGatherOpShapeInfo, so x is viewed as
 * [batch, outer, dim, slice] exactly as the cpu kernel does. Out-of-range indices throw.
 */
import { GatherV2, GatherV2Attrs, TensorInfo, backend_util, util } from '@tensorflow/tfjs-core';

import { nativeKernel, run } from '../../kernel_util.js';

export const gatherV2Config = nativeKernel(GatherV2, ({ inputs, attrs, backend }) => {
  const { x, indices } = inputs as unknown as Record<string, TensorInfo>;
  const { axis, batchDims } = attrs as unknown as GatherV2Attrs;
  const $axis = util.parseAxisParam(axis, x.shape)[0];
  const info = backend_util.segment_util.collectGatherOpShapeInfo(x as never, indices as never, $axis, batchDims ?? 0);
  if (util.sizeFromShape(info.outputShape) === 0) return backend.makeTensorInfo(info.outputShape, x.dtype, []);
  return run(backend, 'gather', backend.handle(x), backend.handle(indices), info.batchSize, info.outerSize,
    info.dimSize, info.sliceSize, info.outputShape);
});
