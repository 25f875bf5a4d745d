/** Relu6: min(max(x, 0), 6). */
import { Relu6 } from '@tensorflow/tfjs-core';

import { UNARY, unaryKernel } from './ops.js';

export const relu6Config = unaryKernel(Relu6, UNARY.Relu6);
