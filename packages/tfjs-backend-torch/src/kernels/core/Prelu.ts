/** Prelu(x, alpha): x < 0 ? alpha * x : x, alpha broadcast. */
import { Prelu } from '@tensorflow/tfjs-core';

import { BINARY, binaryKernel } from './ops.js';

export const preluConfig = binaryKernel(Prelu, BINARY.Prelu, undefined, ['x', 'alpha']);
