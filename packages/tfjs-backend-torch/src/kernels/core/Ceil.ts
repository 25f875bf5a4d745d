/** Ceil. */
import { Ceil } from '@tensorflow/tfjs-core';

import { UNARY, unaryKernel } from './ops.js';

export const ceilConfig = unaryKernel(Ceil, UNARY.Ceil);
