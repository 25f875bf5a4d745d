/** Atan2. */
import { Atan2 } from '@tensorflow/tfjs-core';

import { BINARY, binaryKernel } from './ops.js';

export const atan2Config = binaryKernel(Atan2, BINARY.Atan2);
