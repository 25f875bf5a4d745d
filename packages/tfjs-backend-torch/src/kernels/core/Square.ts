/** Square: x * x. */
import { Square } from '@tensorflow/tfjs-core';

import { UNARY, unaryKernel } from './ops.js';

export const squareConfig = unaryKernel(Square, UNARY.Square);
