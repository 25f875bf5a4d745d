/** Sign, with sign(NaN) = 0 as in tfjs. */
import { Sign } from '@tensorflow/tfjs-core';

import { UNARY, unaryKernel } from './ops.js';

export const signConfig = unaryKernel(Sign, UNARY.Sign);
