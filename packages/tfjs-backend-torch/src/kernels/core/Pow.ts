/** Pow; int32 with negative exponents truncates like tfjs instead of throwing. */
import { Pow } from '@tensorflow/tfjs-core';

import { BINARY, binaryKernel } from './ops.js';

export const powConfig = binaryKernel(Pow, BINARY.Pow);
