/** Min. */
import { Min } from '@tensorflow/tfjs-core';

import { REDUCE, reduceKernel } from './reduce.js';

export const minConfig = reduceKernel(Min, REDUCE.Min, 'axis');
