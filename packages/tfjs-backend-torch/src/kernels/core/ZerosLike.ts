/** ZerosLike (complex64 goes to the cpu fallback). */
import { ZerosLike } from '@tensorflow/tfjs-core';

import { UNARY, unaryKernel } from './ops.js';

export const zerosLikeConfig = unaryKernel(ZerosLike, UNARY.ZerosLike);
