/** Every native "core" kernel (element-wise, reductions, shape ops): registered by src/register.ts. */
import type { KernelConfig } from '@tensorflow/tfjs-core';

import { castConfig } from './Cast.js';
import { identityConfig } from './Identity.js';

export const coreKernelConfigs: KernelConfig[] = [identityConfig, castConfig];
