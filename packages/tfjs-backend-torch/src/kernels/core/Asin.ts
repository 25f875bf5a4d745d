/** Asin. */
import { Asin } from '@tensorflow/tfjs-core';

import { UNARY, unaryKernel } from './ops.js';

export const asinConfig = unaryKernel(Asin, UNARY.Asin);
