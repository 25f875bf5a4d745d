/**
 * Registers every kernel for 'torch': the native ones (core, and nn from the engine-nn side), then a
 * cpu fallback for every other kernel the cpu backend has, so no program fails with
 * "kernel not registered" (guide §5).
 */
import '@tensorflow/tfjs-backend-cpu'; // registers the cpu kernels the fallback delegates to
import { KernelConfig, getKernelsForBackend, registerKernel } from '@tensorflow/tfjs-core';

import { fallbackConfig } from './fallback.js';
import { coreKernelConfigs } from './kernels/core/index.js';
import { nnKernelConfigs, registerTorchGradients } from './kernels/nn/index.js';
import { opCodeMismatches } from './kernels/core/ops.js';

let registered = false;
const nativeNames = new Set<string>();

/** Names of kernels with a native implementation (after `registerTorchKernels`). */
export function nativeKernelNames(): ReadonlySet<string> {
  return nativeNames;
}

export function registerTorchKernels(): void {
  if (registered) return;
  const stale = opCodeMismatches();
  if (stale.length > 0) {
    throw new Error(`the addon lacks ${stale.join(', ')} (out of date? rebuild with npm run build:native)`);
  }
  registered = true;
  const configs: KernelConfig[] = [...coreKernelConfigs, ...nnKernelConfigs];
  for (const c of configs) {
    registerKernel({ ...c, backendName: 'torch' });
    nativeNames.add(c.kernelName);
  }
  for (const c of getKernelsForBackend('cpu')) {
    if (!nativeNames.has(c.kernelName)) registerKernel(fallbackConfig(c.kernelName));
  }
  // engine-nn's torch-only fused backward paths for Relu and FusedBatchNorm (other backends keep
  // tfjs's formulas); the nn kernels re-check this, since gradients may be registered later.
  registerTorchGradients();
}
