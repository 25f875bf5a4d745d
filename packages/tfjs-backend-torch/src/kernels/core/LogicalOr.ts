/** LogicalOr: bool output, broadcasting. */
import { LogicalOr } from '@tensorflow/tfjs-core';

import { BINARY, binaryKernel } from './ops.js';

export const logicalOrConfig = binaryKernel(LogicalOr, BINARY.LogicalOr);
