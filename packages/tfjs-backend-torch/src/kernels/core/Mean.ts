/** Mean: float32 output for int32 input, as in tfjs (ATen refuses int means). */
import { Mean } from '@tensorflow/tfjs-core';

import { REDUCE, reduceKernel } from './reduce.js';

export const meanConfig = reduceKernel(Mean, REDUCE.Mean, 'axis');
