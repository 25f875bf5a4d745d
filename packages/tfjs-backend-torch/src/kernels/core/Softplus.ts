/** Softplus with tfjs's float32-epsilon thresholds. */
import { Softplus } from '@tensorflow/tfjs-core';

import { UNARY, unaryKernel } from './ops.js';

export const softplusConfig = unaryKernel(Softplus, UNARY.Softplus);
