/** Tan. */
import { Tan } from '@tensorflow/tfjs-core';

import { UNARY, unaryKernel } from './ops.js';

export const tanConfig = unaryKernel(Tan, UNARY.Tan);
