/** Exp: float32 output even for int32 input, as the tfjs cpu kernel. */
import { Exp } from '@tensorflow/tfjs-core';

import { UNARY, unaryKernel } from './ops.js';

export const expConfig = unaryKernel(Exp, UNARY.Exp, 'float32');
