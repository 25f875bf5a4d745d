/** Sigmoid: 1 / (1 + exp(-x)). */
import { Sigmoid } from '@tensorflow/tfjs-core';

import { UNARY, unaryKernel } from './ops.js';

export const sigmoidConfig = unaryKernel(Sigmoid, UNARY.Sigmoid);
