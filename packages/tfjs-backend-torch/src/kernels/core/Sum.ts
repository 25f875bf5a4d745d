/** Sum: int32/bool sum to int32 (ATen would give int64). */
import { Sum } from '@tensorflow/tfjs-core';

import { REDUCE, reduceKernel } from './reduce.js';

export const sumConfig = reduceKernel(Sum, REDUCE.Sum, 'axis');
