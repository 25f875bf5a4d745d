/** Equal: bool output, broadcasting. */
import { Equal } from '@tensorflow/tfjs-core';

import { BINARY, binaryKernel } from './ops.js';

export const equalConfig = binaryKernel(Equal, BINARY.Equal);
