/** Erf (exact; tfjs's cpu kernel uses a 1.5e-7 polynomial approximation). */
import { Erf } from '@tensorflow/tfjs-core';

import { UNARY, unaryKernel } from './ops.js';

export const erfConfig = unaryKernel(Erf, UNARY.Erf);
