/**
 * UnsortedSegmentSum with rank-1 segment ids (GatherV2's gradient, e.g. an attack's loss that
 * gathers the true-class logit): one index_add natively. Other ranks keep the cpu kernel's own
 * (axis-0) semantics through the fallback. float32 output, like the cpu kernel.
 */
import { TensorInfo, UnsortedSegmentSum, UnsortedSegmentSumAttrs } from '@tensorflow/tfjs-core';

import { runOnCpu } from '../../fallback.js';
import { nativeKernel, run } from '../../kernel_util.js';

export const unsortedSegmentSumConfig = nativeKernel(UnsortedSegmentSum, ({ inputs, attrs, backend }) => {
  const { x, segmentIds } = inputs as unknown as Record<string, TensorInfo>;
  const { numSegments } = attrs as unknown as UnsortedSegmentSumAttrs;
  if (segmentIds.shape.length !== 1 || x.shape.length < 1 || x.shape[0] !== segmentIds.shape[0]) {
    return runOnCpu(UnsortedSegmentSum, inputs, attrs, backend);
  }
  return run(backend, 'unsortedSegmentSum', backend.handle(x), backend.handle(segmentIds), numSegments);
});
