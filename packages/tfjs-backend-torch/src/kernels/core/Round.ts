/** Round: half to even, like tfjs's cpu kernel and at::round. */
import { Round } from '@tensorflow/tfjs-core';

import { UNARY, unaryKernel } from './ops.js';

export const roundConfig = unaryKernel(Round, UNARY.Round);
