/**
 * Loads the libtorch N-API addon. Importing this module never throws: when the addon cannot be
 * loaded (libtorch not installed, addon not built, ABI mismatch) `loadNative()` returns the reason,
 * so the package can report the backend as unavailable and tfjs falls back to wasm/cpu.
 *
 * Which file: `$TFJS_TORCH_ADDON` when set (an explicit path, also used by tests to simulate a
 * missing addon), else `build-cuda/` when `TFJS_TORCH_DEVICE=cuda`, else `build/`.
 */
import { createRequire } from 'node:module';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

/** dtype codes shared with native/context.h (tt::DtypeCode). */
export const DTYPE_CODE = { float32: 0, int32: 1, bool: 2 } as const;
export const CODE_DTYPE = ['float32', 'int32', 'bool'] as const;
export type NativeDtype = (typeof CODE_DTYPE)[number];

/**
 * A native result: `[handle, dtypeCode, rank, ...shape]` (see ReturnTensor in native/context.h).
 */
export type NativeResult = Int32Array;

/** PyTorch's CUDA caching allocator, in bytes (native/ops_cuda.cc). */
export interface CudaMemoryInfo {
  allocated: number;
  reserved: number;
  peakAllocated: number;
  peakReserved: number;
}

/** Counters of the caching CPU allocator. */
export interface CpuCacheStats {
  cachedBytes: number;
  limitBytes: number;
  liveBlocks: number;
  hits: number;
  misses: number;
}

/** The functions native/*.cc export. Families other than storage are typed where they are used. */
export interface TorchBinding {
  fromTyped(values: Float32Array | Int32Array | Uint8Array, shape: number[], dtype: number): number;
  toTyped(handle: number): Float32Array | Int32Array | Uint8Array;
  free(handle: number): void;
  /** A second handle to the same tensor (no copy). */
  retain(handle: number): number;
  count(): number;
  nativeBytes(): number;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  device(): 'cpu' | 'cuda';
  hasCuda(): boolean;
  synchronize(): void;
  torchVersion(): string;
  /** GPU caching-allocator bytes; null on CPU (or a build without allocator stats). */
  cudaMemory(): CudaMemoryInfo | null;
  /** Frees cached, unused blocks (GPU, and the CPU block cache); false when there is no cache. */
  emptyCache(): boolean;
  /** The caching CPU allocator's counters (native/cpu_allocator.cc); null when not installed. */
  cpuCacheStats(): CpuCacheStats | null;
  hasNnOps: boolean;
  // Every op family adds functions returning NativeResult(s); kernels call them by name.
  [op: string]: unknown;
}

export interface NativeLoad {
  binding?: TorchBinding;
  path: string;
  reason?: string;
}

let cached: NativeLoad | undefined;

export function addonPath(): string {
  if (process.env.TFJS_TORCH_ADDON) return process.env.TFJS_TORCH_ADDON;
  const dir = process.env.TFJS_TORCH_DEVICE === 'cuda' ? 'build-cuda' : 'build';
  // src/native.ts and dist/native.js are both one level below the package root.
  return fileURLToPath(new URL(`../${dir}/tfjs_backend_torch.node`, import.meta.url));
}

export function loadNative(): NativeLoad {
  if (cached) return cached;
  const path = addonPath();
  if (!fs.existsSync(path)) {
    cached = {
      path,
      reason: `native addon not found at ${path} (build it with \`npm run build:native\`; it needs Debian libtorch-dev or LIBTORCH)`,
    };
    return cached;
  }
  try {
    // libgomp reads this once, when libtorch loads. Its default spin-waiting makes every parallel
    // ATen op crawl when the cores are shared (measured: a small CNN step 115-130 ms spinning vs
    // 21 ms passive with 2 threads on a busy 2-core machine). An explicit setting wins.
    // It is unset again right after, so child processes (e.g. a PyTorch comparison) keep their default.
    const setPolicy = process.env.OMP_WAIT_POLICY === undefined;
    if (setPolicy) process.env.OMP_WAIT_POLICY = 'PASSIVE';
    const require = createRequire(import.meta.url);
    let binding: TorchBinding;
    try {
      binding = require(path) as TorchBinding;
    } finally {
      if (setPolicy) delete process.env.OMP_WAIT_POLICY;
    }
    if (process.env.TFJS_TORCH_DEVICE === 'cuda' && binding.device() !== 'cuda') {
      process.emitWarning(`TFJS_TORCH_DEVICE=cuda but ${path} has no usable CUDA device; tensors stay on the CPU`);
    }
    cached = { binding, path };
  } catch (err) {
    cached = { path, reason: `native addon at ${path} failed to load: ${(err as Error).message}` };
  }
  return cached;
}
