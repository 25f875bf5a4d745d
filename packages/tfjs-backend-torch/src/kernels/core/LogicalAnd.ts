/** LogicalAnd: bool output, broadcasting. */
import { LogicalAnd } from '@tensorflow/tfjs-core';

import { BINARY, binaryKernel } from './ops.js';

export const logicalAndConfig = binaryKernel(LogicalAnd, BINARY.LogicalAnd);
