/**
 * Identity aliases its input: same dataId, one more reference. The engine's clone(), the tape and
 * customGrad's save() rely on this; a copying Identity fails tfjs's kernel leak check (guide §1.6.3).
 */
import { Identity, TensorInfo } from '@tensorflow/tfjs-core';

import { nativeKernel } from '../../kernel_util.js';

export const identityConfig = nativeKernel(Identity, ({ inputs, backend }) => backend.alias(inputs.x as TensorInfo));
