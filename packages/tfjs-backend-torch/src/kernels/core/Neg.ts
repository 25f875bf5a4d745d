/** Neg: -x (native/ops_elementwise.cc). */
import { Neg } from '@tensorflow/tfjs-core';

import { UNARY, unaryKernel } from './ops.js';

export const negConfig = unaryKernel(Neg, UNARY.Neg);
