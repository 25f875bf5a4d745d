/** Abs (int32 stays int32). */
import { Abs } from '@tensorflow/tfjs-core';

import { UNARY, unaryKernel } from './ops.js';

export const absConfig = unaryKernel(Abs, UNARY.Abs);
