/** Greater: bool output, broadcasting. */
import { Greater } from '@tensorflow/tfjs-core';

import { BINARY, binaryKernel } from './ops.js';

export const greaterConfig = binaryKernel(Greater, BINARY.Greater);
