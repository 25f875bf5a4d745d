/** Acosh. */
import { Acosh } from '@tensorflow/tfjs-core';

import { UNARY, unaryKernel } from './ops.js';

export const acoshConfig = unaryKernel(Acosh, UNARY.Acosh);
