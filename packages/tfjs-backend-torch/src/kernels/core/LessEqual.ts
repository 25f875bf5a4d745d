/** LessEqual: bool output, broadcasting. */
import { LessEqual } from '@tensorflow/tfjs-core';

import { BINARY, binaryKernel } from './ops.js';

export const lessEqualConfig = binaryKernel(LessEqual, BINARY.LessEqual);
