/** Atanh. */
import { Atanh } from '@tensorflow/tfjs-core';

import { UNARY, unaryKernel } from './ops.js';

export const atanhConfig = unaryKernel(Atanh, UNARY.Atanh);
