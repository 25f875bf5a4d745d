/** EluGrad(dy, y): y >= 0 ? dy : dy * (y + 1). */
import { EluGrad } from '@tensorflow/tfjs-core';

import { BINARY, binaryKernel } from './ops.js';

export const eluGradConfig = binaryKernel(EluGrad, BINARY.EluGrad, 'float32', ['dy', 'y']);
