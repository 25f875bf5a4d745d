/** Atan. */
import { Atan } from '@tensorflow/tfjs-core';

import { UNARY, unaryKernel } from './ops.js';

export const atanConfig = unaryKernel(Atan, UNARY.Atan);
