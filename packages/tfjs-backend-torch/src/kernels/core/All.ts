/** All: bool output. */
import { All } from '@tensorflow/tfjs-core';

import { REDUCE, reduceKernel } from './reduce.js';

export const allConfig = reduceKernel(All, REDUCE.All, 'axis');
