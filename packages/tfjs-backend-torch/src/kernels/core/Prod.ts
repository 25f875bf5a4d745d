/** Prod: int32/bool multiply to int32. */
import { Prod } from '@tensorflow/tfjs-core';

import { REDUCE, reduceKernel } from './reduce.js';

export const prodConfig = reduceKernel(Prod, REDUCE.Prod, 'axis');
