/** GreaterEqual: bool output, broadcasting. */
import { GreaterEqual } from '@tensorflow/tfjs-core';

import { BINARY, binaryKernel } from './ops.js';

export const greaterEqualConfig = binaryKernel(GreaterEqual, BINARY.GreaterEqual);
