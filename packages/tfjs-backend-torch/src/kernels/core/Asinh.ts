/** Asinh. */
import { Asinh } from '@tensorflow/tfjs-core';

import { UNARY, unaryKernel } from './ops.js';

export const asinhConfig = unaryKernel(Asinh, UNARY.Asinh);
