/** Cos. */
import { Cos } from '@tensorflow/tfjs-core';

import { UNARY, unaryKernel } from './ops.js';

export const cosConfig = unaryKernel(Cos, UNARY.Cos);
