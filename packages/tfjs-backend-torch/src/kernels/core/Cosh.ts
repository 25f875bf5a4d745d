/** Cosh. */
import { Cosh } from '@tensorflow/tfjs-core';

import { UNARY, unaryKernel } from './ops.js';

export const coshConfig = unaryKernel(Cosh, UNARY.Cosh);
