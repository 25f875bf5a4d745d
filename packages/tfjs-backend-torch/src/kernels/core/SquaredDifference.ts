/** SquaredDifference: (a - b)^2. */
import { SquaredDifference } from '@tensorflow/tfjs-core';

import { BINARY, binaryKernel } from './ops.js';

export const squaredDifferenceConfig = binaryKernel(SquaredDifference, BINARY.SquaredDifference);
