/**
 * tfjs-backend-torch: a TensorFlow.js backend on libtorch. Importing this module registers the
 * backend 'torch' (priority 4, above wasm/webgl 2 and cpu 1) when the native addon loads. It never
 * throws: without the addon, `torchStatus()` says why and tfjs keeps its other backends (one
 * warning is emitted).
 */
import { registerBackend } from '@tensorflow/tfjs-core';

import { TorchBackend } from './backend.js';
import fs from 'node:fs';

import { PRECISION_CODE, type Precision, type RowCopyStatus, TorchBinding, type WinogradStatus, loadNative } from './native.js';
import { registerTorchKernels } from './register.js';

export { TorchBackend, kernelStats } from './backend.js';
export type { TorchMemoryInfo, TorchTensorData } from './backend.js';
export type { CpuCacheStats, CudaMemoryInfo, Precision, RowCopyStatus, WinogradStatus } from './native.js';
export { nativeKernelNames } from './register.js';
// Process groups over c10d (Gloo/NCCL): distributed.ts
export * from './distributed.js';
// Commit, engine build, CPU and date for results files and benchmarks: provenance.ts
export { cpuModel, engineBuild, gitCommit, provenance } from './provenance.js';
export type { EngineBuild, Provenance } from './provenance.js';

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

export { adamStep, apgdLinfStep, apgdTrack, batchNormTraining, fusedOpsAvailable, linfBoxProjection, linfStep, sgdMomentumStep, squareAccept } from './fused.js';
export type { BatchNormTrainingParams, BatchNormTrainingResult } from './fused.js';

/**
 * Arithmetic of convolutions and matrix products, process-wide: 'fp32' (default, strict float32),
 * 'tf32' (TF32 tensor cores on GPUs; no effect on CPU), 'bf16' (bfloat16 products of float32
 * operands, float32 results: weights, activations and gradients stay float32, so no loss scaling
 * is needed, bf16 having float32's exponent range). Meant for training; attacks and evaluation
 * should stay 'fp32', since low precision can mask gradients.
 */
export function setPrecision(p: Precision): void {
  const b = loadNative().binding;
  if (b === undefined) throw new Error(`tfjs-backend-torch: ${status.reason}`);
  const code = PRECISION_CODE[p];
  if (code === undefined) throw new Error(`tfjs-backend-torch: unknown precision '${p}' (expected fp32, tf32 or bf16)`);
  b.setPrecision(code);
}

/**
 * Whether 3x3 stride-1 convolutions on CPU maps of 8x8 and more may use oneDNN's Winograd kernels
 * (forward and both gradients; on by default where the addon was built with oneDNN's headers, off
 * with TFJS_TORCH_WINOGRAD=0). Winograd's results differ from the direct method's by float32
 * rounding only (about 1e-6 relative); the switch exists to compare the two.
 */
export function setWinograd(on: boolean): void {
  const b = loadNative().binding;
  if (b === undefined) throw new Error(`tfjs-backend-torch: ${status.reason}`);
  b.setWinograd(on);
}

/**
 * Whether Concat and SplitV on CPU run as row-copy loops (native/ops_shape.cc: each output row is
 * the inputs' chunks copied one after another, a split writes every piece in one pass over its
 * input) instead of ATen's cat and split views. On by default, off with TFJS_TORCH_ROW_COPY=0;
 * both give the same bits (plain copies), the switch exists to compare their speed.
 */
export function setRowCopy(on: boolean): void {
  const b = loadNative().binding;
  if (b === undefined) throw new Error(`tfjs-backend-torch: ${status.reason}`);
  b.setRowCopy(on);
}

/** The row-copy path's state: null without the addon. */
export function rowCopyStatus(): RowCopyStatus | null {
  return loadNative().binding?.rowCopyStatus() ?? null;
}

/** The Winograd path's state: null without the addon. */
export function winogradStatus(): WinogradStatus | null {
  return loadNative().binding?.winogradStatus() ?? null;
}

export function getPrecision(): Precision {
  const b = loadNative().binding;
  if (b === undefined) return 'fp32';
  const code = b.getPrecision();
  return (Object.keys(PRECISION_CODE) as Precision[]).find((k) => PRECISION_CODE[k] === code) ?? 'fp32';
}

/**
 * Whether bf16 products run in hardware here: on CUDA, or a CPU with AVX-512-BF16 or AMX;
 * elsewhere oneDNN emulates them (correct, but several times slower than fp32).
 */
export function bf16Support(): 'native' | 'emulated' {
  if (loadNative().binding?.device() === 'cuda') return 'native';
  try {
    return /\b(avx512_bf16|amx_bf16)\b/.test(fs.readFileSync('/proc/cpuinfo', 'utf8')) ? 'native' : 'emulated';
  } catch {
    return 'emulated';
  }
}
