/** Any: bool output. */
import { Any } from '@tensorflow/tfjs-core';

import { REDUCE, reduceKernel } from './reduce.js';

export const anyConfig = reduceKernel(Any, REDUCE.Any, 'axis');
