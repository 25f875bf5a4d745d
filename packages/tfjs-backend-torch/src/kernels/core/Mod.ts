/** Mod: the result takes the divisor's sign (tfjs's formula, not at::fmod). */
import { Mod } from '@tensorflow/tfjs-core';

import { BINARY, binaryKernel } from './ops.js';

export const modConfig = binaryKernel(Mod, BINARY.Mod);
