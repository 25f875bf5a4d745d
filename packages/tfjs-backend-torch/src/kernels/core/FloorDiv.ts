/**
 * FloorDiv: floor(a / b), always int32 like the tfjs cpu kernel (tf.div on int32 tensors routes here);
 * integer division by zero gives 0 as in tfjs, where ATen would throw.
 */
import { FloorDiv } from '@tensorflow/tfjs-core';

import { BINARY, binaryKernel } from './ops.js';

export const floorDivConfig = binaryKernel(FloorDiv, BINARY.FloorDiv, 'int32');
