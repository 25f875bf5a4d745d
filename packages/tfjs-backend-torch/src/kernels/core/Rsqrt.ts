/** Rsqrt: 1 / sqrt(x) (batch-norm's hot path). */
import { Rsqrt } from '@tensorflow/tfjs-core';

import { UNARY, unaryKernel } from './ops.js';

export const rsqrtConfig = unaryKernel(Rsqrt, UNARY.Rsqrt);
