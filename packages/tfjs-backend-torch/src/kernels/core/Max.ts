/** Max (attribute 'reductionIndices', unlike Sum's 'axis'). */
import { Max } from '@tensorflow/tfjs-core';

import { REDUCE, reduceKernel } from './reduce.js';

export const maxConfig = reduceKernel(Max, REDUCE.Max, 'reductionIndices');
