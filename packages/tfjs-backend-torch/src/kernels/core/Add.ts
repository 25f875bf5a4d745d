/** Add with numpy broadcasting; output dtype upcastType(a, b). */
import { Add } from '@tensorflow/tfjs-core';

import { BINARY, binaryKernel } from './ops.js';

export const addConfig = binaryKernel(Add, BINARY.Add);
