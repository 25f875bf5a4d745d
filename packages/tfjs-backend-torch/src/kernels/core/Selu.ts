/** Selu (the standard constants, same as tfjs's). */
import { Selu } from '@tensorflow/tfjs-core';

import { UNARY, unaryKernel } from './ops.js';

export const seluConfig = unaryKernel(Selu, UNARY.Selu);
