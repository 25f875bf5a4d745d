/** Sqrt. */
import { Sqrt } from '@tensorflow/tfjs-core';

import { UNARY, unaryKernel } from './ops.js';

export const sqrtConfig = unaryKernel(Sqrt, UNARY.Sqrt);
