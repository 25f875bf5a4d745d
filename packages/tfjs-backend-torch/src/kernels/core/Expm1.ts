/** Expm1: exp(x) - 1. */
import { Expm1 } from '@tensorflow/tfjs-core';

import { UNARY, unaryKernel } from './ops.js';

export const expm1Config = unaryKernel(Expm1, UNARY.Expm1);
