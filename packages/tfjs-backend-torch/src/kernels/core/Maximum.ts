/** Maximum (NaN propagates). */
import { Maximum } from '@tensorflow/tfjs-core';

import { BINARY, binaryKernel } from './ops.js';

export const maximumConfig = binaryKernel(Maximum, BINARY.Maximum);
