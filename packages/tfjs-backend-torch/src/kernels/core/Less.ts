/** Less: bool output, broadcasting. */
import { Less } from '@tensorflow/tfjs-core';

import { BINARY, binaryKernel } from './ops.js';

export const lessConfig = binaryKernel(Less, BINARY.Less);
