/** Step: x > 0 ? 1 : alpha, NaN kept (tfjs's Relu gradient uses it). */
import { Step } from '@tensorflow/tfjs-core';

import { UNARY, unaryKernel } from './ops.js';

export const stepConfig = unaryKernel(Step, UNARY.Step, undefined, 'alpha', 0);
