/** IsFinite. */
import { IsFinite } from '@tensorflow/tfjs-core';

import { UNARY, unaryKernel } from './ops.js';

export const isFiniteConfig = unaryKernel(IsFinite, UNARY.IsFinite, 'bool');
