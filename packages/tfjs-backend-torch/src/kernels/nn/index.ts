/**
 * PLACEHOLDER written by engine-core so src/register.ts compiles before the nn kernels land.
 * engine-nn: replace this file with the real list of nn kernel configs (same export name).
 */
import type { KernelConfig } from '@tensorflow/tfjs-core';

export const nnKernelConfigs: KernelConfig[] = [];
