/** Reciprocal: 1 / x. */
import { Reciprocal } from '@tensorflow/tfjs-core';

import { UNARY, unaryKernel } from './ops.js';

export const reciprocalConfig = unaryKernel(Reciprocal, UNARY.Reciprocal);
