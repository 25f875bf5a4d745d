/** Sub with broadcasting. */
import { Sub } from '@tensorflow/tfjs-core';

import { BINARY, binaryKernel } from './ops.js';

export const subConfig = binaryKernel(Sub, BINARY.Sub);
