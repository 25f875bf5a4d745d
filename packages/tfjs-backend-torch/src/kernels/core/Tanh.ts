/** Tanh. */
import { Tanh } from '@tensorflow/tfjs-core';

import { UNARY, unaryKernel } from './ops.js';

export const tanhConfig = unaryKernel(Tanh, UNARY.Tanh);
