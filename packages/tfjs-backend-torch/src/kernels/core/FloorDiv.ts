/** FloorDiv: floor(a / b); integer division by zero gives 0 as in tfjs (ATen would throw). */
import { DataType, FloorDiv, backend_util } from '@tensorflow/tfjs-core';

import { BINARY, binaryKernel } from './ops.js';

export const floorDivConfig = binaryKernel(FloorDiv, BINARY.FloorDiv, (a: DataType, b: DataType) => (a === 'bool' && b === 'bool' ? 'int32' : backend_util.upcastType(a, b)));
