/** LeakyRelu: x < 0 ? alpha * x : x (float32 output, as tfjs). */
import { LeakyRelu } from '@tensorflow/tfjs-core';

import { UNARY, unaryKernel } from './ops.js';

export const leakyReluConfig = unaryKernel(LeakyRelu, UNARY.LeakyRelu, 'float32', 'alpha', 0.2);
