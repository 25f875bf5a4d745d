/** OnesLike (complex64 goes to the cpu fallback). */
import { OnesLike } from '@tensorflow/tfjs-core';

import { UNARY, unaryKernel } from './ops.js';

export const onesLikeConfig = unaryKernel(OnesLike, UNARY.OnesLike);
