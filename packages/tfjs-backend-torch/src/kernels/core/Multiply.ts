/** Multiply with broadcasting (the most frequent arithmetic kernel of a train step). */
import { Multiply } from '@tensorflow/tfjs-core';

import { BINARY, binaryKernel } from './ops.js';

export const multiplyConfig = binaryKernel(Multiply, BINARY.Multiply);
