/** Minimum (NaN propagates). */
import { Minimum } from '@tensorflow/tfjs-core';

import { BINARY, binaryKernel } from './ops.js';

export const minimumConfig = binaryKernel(Minimum, BINARY.Minimum);
