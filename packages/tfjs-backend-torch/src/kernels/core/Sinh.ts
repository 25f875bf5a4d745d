/** Sinh. */
import { Sinh } from '@tensorflow/tfjs-core';

import { UNARY, unaryKernel } from './ops.js';

export const sinhConfig = unaryKernel(Sinh, UNARY.Sinh);
