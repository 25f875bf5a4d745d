/**
 * tfjs-backend-torch: a TensorFlow.js backend on libtorch. Importing this module registers the
 * backend 'torch' (priority 4, above wasm/webgl 2 and cpu 1) when the native addon loads. It never
 * throws: without the addon, `torchStatus()` says why and tfjs keeps its other backends (one
 * warning is emitted).
 */
import { registerBackend } from '@tensorflow/tfjs-core';

import { TorchBackend } from './backend.js';
import { TorchBinding, loadNative } from './native.js';
import { registerTorchKernels } from './register.js';

export { TorchBackend, kernelStats } from './backend.js';
export type { TorchMemoryInfo, TorchTensorData } from './backend.js';
export type { CpuCacheStats, CudaMemoryInfo } from './native.js';
export { nativeKernelNames } from './register.js';
// Process groups over c10d (Gloo/NCCL): distributed.ts
export * from './distributed.js';

export const TORCH_PRIORITY = 4;

export interface TorchStatus {
  available: boolean;
  reason?: string;
  device?: string;
  numThreads?: number;
  torchVersion?: string;
  addonPath?: string;
}

let status: TorchStatus;

function init(): void {
  const load = loadNative();
  if (load.binding === undefined) {
    status = { available: false, reason: load.reason, addonPath: load.path };
    process.emitWarning(`tfjs-backend-torch: the 'torch' backend is unavailable: ${load.reason}`);
    return;
  }
  const binding = load.binding;
  try {
    registerTorchKernels();
    registerBackend('torch', () => new TorchBackend(binding), TORCH_PRIORITY);
    status = {
      available: true,
      device: binding.device(),
      numThreads: binding.getNumThreads(),
      torchVersion: binding.torchVersion(),
      addonPath: load.path,
    };
  } catch (err) {
    status = { available: false, reason: `registration failed: ${(err as Error).message}`, addonPath: load.path };
    process.emitWarning(`tfjs-backend-torch: the 'torch' backend is unavailable: ${status.reason}`);
  }
}

init();

/** Whether the 'torch' backend is registered, and if not, why. */
export function torchStatus(): TorchStatus {
  return { ...status };
}

/** The raw addon (for tests and diagnostics); undefined when it did not load. */
export function nativeBinding(): TorchBinding | undefined {
  return loadNative().binding;
}

/** Sets ATen's intra-op thread count (also settable with TFJS_TORCH_NUM_THREADS at load). */
export function setNumThreads(n: number): void {
  const b = loadNative().binding;
  if (b === undefined) throw new Error(`tfjs-backend-torch: ${status.reason}`);
  b.setNumThreads(n);
}

/**
 * Frees cached but unused memory: PyTorch's GPU cache on CUDA, and on CPU builds the block cache
 * that keeps large freed buffers for reuse (TFJS_TORCH_CPU_CACHE_MB bounds it, 0 turns it off).
 * Use it e.g. between a training run and an evaluation in one process. Returns false when there
 * is no cache to empty.
 */
export function emptyCache(): boolean {
  const b = loadNative().binding;
  if (b === undefined) throw new Error(`tfjs-backend-torch: ${status.reason}`);
  return b.emptyCache();
}
