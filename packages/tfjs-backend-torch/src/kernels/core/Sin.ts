/** Sin. */
import { Sin } from '@tensorflow/tfjs-core';

import { UNARY, unaryKernel } from './ops.js';

export const sinConfig = unaryKernel(Sin, UNARY.Sin);
