/** NotEqual: bool output, broadcasting. */
import { NotEqual } from '@tensorflow/tfjs-core';

import { BINARY, binaryKernel } from './ops.js';

export const notEqualConfig = binaryKernel(NotEqual, BINARY.NotEqual);
