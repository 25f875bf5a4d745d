/** Log1p: log(1 + x). */
import { Log1p } from '@tensorflow/tfjs-core';

import { UNARY, unaryKernel } from './ops.js';

export const log1pConfig = unaryKernel(Log1p, UNARY.Log1p);
