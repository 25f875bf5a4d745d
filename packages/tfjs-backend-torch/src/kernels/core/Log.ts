/** Log (NaN for x < 0, -Infinity at 0, like Math.log). */
import { Log } from '@tensorflow/tfjs-core';

import { UNARY, unaryKernel } from './ops.js';

export const logConfig = unaryKernel(Log, UNARY.Log);
