/** RealDiv: int32 / int32 stays int32 (truncated; x/0 -> 0) as in tfjs, where ATen would give float. */
import { RealDiv } from '@tensorflow/tfjs-core';

import { BINARY, binaryKernel } from './ops.js';

export const realDivConfig = binaryKernel(RealDiv, BINARY.RealDiv);
