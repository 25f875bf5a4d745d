/** Relu: max(x, 0), NaN kept. */
import { Relu } from '@tensorflow/tfjs-core';

import { UNARY, unaryKernel } from './ops.js';

export const reluConfig = unaryKernel(Relu, UNARY.Relu);
