/** Acos. */
import { Acos } from '@tensorflow/tfjs-core';

import { UNARY, unaryKernel } from './ops.js';

export const acosConfig = unaryKernel(Acos, UNARY.Acos);
