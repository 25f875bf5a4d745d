/** Elu: x >= 0 ? x : exp(x) - 1. */
import { Elu } from '@tensorflow/tfjs-core';

import { UNARY, unaryKernel } from './ops.js';

export const eluConfig = unaryKernel(Elu, UNARY.Elu);
