/** IsInf. */
import { IsInf } from '@tensorflow/tfjs-core';

import { UNARY, unaryKernel } from './ops.js';

export const isInfConfig = unaryKernel(IsInf, UNARY.IsInf, 'bool');
