/** LogicalNot. */
import { LogicalNot } from '@tensorflow/tfjs-core';

import { UNARY, unaryKernel } from './ops.js';

export const logicalNotConfig = unaryKernel(LogicalNot, UNARY.LogicalNot, 'bool');
