/** IsNan. */
import { IsNan } from '@tensorflow/tfjs-core';

import { UNARY, unaryKernel } from './ops.js';

export const isNanConfig = unaryKernel(IsNan, UNARY.IsNan, 'bool');
