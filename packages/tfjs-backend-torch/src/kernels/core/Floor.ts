/** Floor. */
import { Floor } from '@tensorflow/tfjs-core';

import { UNARY, unaryKernel } from './ops.js';

export const floorConfig = unaryKernel(Floor, UNARY.Floor);
