/** Fill: a new tensor of one value (string fills go to the cpu fallback). */
import { DataType, Fill, FillAttrs } from '@tensorflow/tfjs-core';

import { isNativeDtype } from '../../backend.js';
import { runOnCpu } from '../../fallback.js';
import { nativeKernel, run } from '../../kernel_util.js';
import { dtypeCode } from './ops.js';

export const fillConfig = nativeKernel(Fill, ({ inputs, attrs, backend }) => {
  const { shape, value, dtype } = attrs as unknown as FillAttrs;
  const $dtype = (dtype ?? (typeof value === 'string' ? 'string' : 'float32')) as DataType;
  if (!isNativeDtype($dtype)) return runOnCpu(Fill, inputs, attrs, backend);
  return run(backend, 'fill', shape, Number(value), dtypeCode($dtype));
});
