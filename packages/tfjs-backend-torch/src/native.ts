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

/** Precision codes of native/context.h (tt::Precision). */
export const PRECISION_CODE = { fp32: 0, tf32: 1, bf16: 2 } as const;
export type Precision = keyof typeof PRECISION_CODE;

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

type H = number; // a tensor handle; -1 passes an absent optional tensor (nn functions)
type Ints = number[] | Int32Array;

/** The op-code tables of native/op_codes.h, exported by the addon as `opCodes`. */
export interface NativeOpCodes {
  unary: Record<string, number>;
  binary: Record<string, number>;
  reduce: Record<string, number>;
  activation: Record<string, number>;
}

/**
 * Every function native/*.cc exports, declared once: the kernels call them through `call()` in
 * kernel_util.ts, which checks names and argument types against this interface. The JS name is
 * the C++ TT_FN name with a lower-case first letter (context.h JsName). `dtype` arguments are
 * DTYPE_CODE values; the argument comments are in the C++ files.
 */
/**
 * The Winograd convolution path (native/ops_conv_winograd.cc): built in, available on this CPU
 * (oneDNN 2 has the kernels for AVX-512 only), switched on, and calls so far.
 */
export interface WinogradStatus {
  built: boolean;
  supported: boolean;
  enabled: boolean;
  calls: { forward: number; backpropInput: number; backpropFilter: number };
}

/** The row-copy Concat and Split (native/ops_shape.cc): switched on, and calls that took the path. */
export interface RowCopyStatus {
  enabled: boolean;
  calls: number;
  /** The addon's own parallel loops (row copies, gathers, fused per-row steps) handed to a team of two or more threads. */
  parallelRanges: number;
}

export interface TorchBinding {
  // storage.cc
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
  /** PRECISION_CODE: conv/matmul arithmetic (native/context.h Precision). */
  setPrecision(code: number): void;
  getPrecision(): number;
  // ops_conv_winograd.cc
  /** Switches the oneDNN Winograd path of 3x3 convolutions on or off (process-wide). */
  setWinograd(on: boolean): void;
  winogradStatus(): WinogradStatus;
  // ops_cuda.cc, cpu_allocator.cc
  /** GPU caching-allocator bytes; null on CPU (or a build without allocator stats). */
  cudaMemory(): CudaMemoryInfo | null;
  /** Frees cached, unused blocks (GPU, and the CPU block cache); false when there is no cache. */
  emptyCache(): boolean;
  /** The caching CPU allocator's counters (native/cpu_allocator.cc); null when not installed. */
  cpuCacheStats(): CpuCacheStats | null;
  hasNnOps: boolean;
  opCodes: NativeOpCodes;

  // ops_elementwise.cc
  unary(op: number, x: H, alpha: number, dtype: number): NativeResult;
  binary(op: number, a: H, b: H, dtype: number): NativeResult;
  binaryScalar(op: number, x: H, value: number, scalarFirst: boolean, scalarDtype: number, dtype: number): NativeResult;
  cast(x: H, dtype: number): NativeResult;
  clip(x: H, min: number, max: number): NativeResult;
  select(condition: H, t: H, e: H, dtype: number): NativeResult;
  addN(xs: H[], dtype: number): NativeResult;
  // ops_reduce.cc
  reduce(op: number, x: H, axes: Ints, keepDims: boolean): NativeResult;
  argReduce(isMin: boolean, x: H, axis: number): NativeResult;
  cumulative(x: H, axis: number, exclusive: boolean, reverse: boolean, isProd: boolean): NativeResult;
  softmax(x: H, dim: number): NativeResult;
  topk(x: H, k: number): NativeResult[];
  unsortedSegmentSum(x: H, segmentIds: H, numSegments: number): NativeResult;
  // ops_shape.cc
  reshape(x: H, shape: Ints): NativeResult;
  transpose(x: H, perm: Ints): NativeResult;
  slice(x: H, begin: Ints, size: Ints): NativeResult;
  stridedSlice(x: H, begin: Ints, strides: Ints, counts: Ints, finalShape: Ints): NativeResult;
  concat(xs: H[], axis: number, dtype: number): NativeResult;
  stack(xs: H[], axis: number, dtype: number): NativeResult;
  unstack(x: H, axis: number): NativeResult[];
  split(x: H, sizes: Ints, axis: number): NativeResult[];
  /** Switches the row-copy Concat and Split on or off (process-wide; off: ATen's cat and split). */
  setRowCopy(on: boolean): void;
  rowCopyStatus(): RowCopyStatus;
  tile(x: H, reps: Ints): NativeResult;
  pad(x: H, paddings: Ints, value: number): NativeResult;
  mirrorPad(x: H, paddings: Ints, symmetric: boolean): NativeResult;
  reverse(x: H, dims: Ints): NativeResult;
  gather(x: H, indices: H, batchSize: number, outerSize: number, dimSize: number, sliceSize: number, outShape: Ints): NativeResult;
  oneHot(indices: H, depth: number, on: number, off: number, dtype: number): NativeResult;
  fill(shape: Ints, value: number, dtype: number): NativeResult;
  scatterNd(indices: H, updates: H, sliceRank: number, numUpdates: number, sliceSize: number, strides: Ints,
    outputSize: number, shape: Ints): NativeResult;

  // ops_conv.cc, ops_pool.cc, ops_nn.cc (present when hasNnOps)
  nnConv2d(x: H, filter: H, bias: H, prelu: H, strides: number[], pads: number[], dilations: number[],
    outHW: number[], depthwise: boolean, channelsLast: boolean, activation: number, leakyreluAlpha: number): NativeResult;
  nnConv2dBackpropInput(dy: H, filter: H, inputShape: number[], strides: number[], pads: number[],
    dilations: number[], depthwise: boolean, channelsLast: boolean, outHW: number[]): NativeResult;
  nnConv2dBackpropFilter(x: H, dy: H, filterShape: number[], strides: number[], pads: number[],
    dilations: number[], depthwise: boolean, channelsLast: boolean): NativeResult;
  nnMaxPool(x: H, filter: number[], strides: number[], pads: number[], outHW: number[]): NativeResult;
  nnMaxPoolGrad(dy: H, x: H, filter: number[], strides: number[], pads: number[]): NativeResult;
  nnAvgPool(x: H, filter: number[], strides: number[], pads: number[], outHW: number[]): NativeResult;
  nnAvgPoolGrad(dy: H, x: H, filter: number[], strides: number[], pads: number[]): NativeResult;
  nnBatchNorm(x: H, mean: H, variance: H, offset: H, scale: H, eps: number): NativeResult;
  nnBatchNormGrad(dy: H, x: H, mean: H, variance: H, scale: H, eps: number): NativeResult[];
  nnReluGrad(dy: H, x: H): NativeResult;
  nnLeakyReluGrad(dy: H, x: H, alpha: number): NativeResult;
  nnMatMul(a: H, b: H, transposeA: boolean, transposeB: boolean, bias: H, prelu: H, activation: number,
    leakyreluAlpha: number): NativeResult;
  nnResizeBilinear(images: H, newH: number, newW: number, alignCorners: boolean, halfPixelCenters: boolean): NativeResult;
  nnResizeBilinearGrad(dy: H, images: H, alignCorners: boolean): NativeResult;
  nnResizeNearest(images: H, newH: number, newW: number, alignCorners: boolean, halfPixelCenters: boolean): NativeResult;
  nnResizeNearestGrad(dy: H, images: H, alignCorners: boolean): NativeResult;

  // ops_fused.cc
  /** -> [y, batchMean, batchInvStd, newRunningMean?, newRunningVariance?] */
  nnBatchNormTrain(x: H, scale: H, offset: H, runningMean: H, runningVariance: H, momentum: number, eps: number): NativeResult[];
  /** -> [dx, dScale, dOffset] */
  nnBatchNormTrainGrad(dy: H, x: H, scale: H, batchMean: H, batchInvStd: H, eps: number): NativeResult[];
  /** -> [params'..., velocities'...] */
  nnSgdMomentumUpdate(params: H[], velocities: H[], grads: H[], lr: number, momentum: number, weightDecay: number): NativeResult[];
  /** -> [params'..., m'..., v'...] */
  nnAdamUpdate(params: H[], m: H[], v: H[], grads: H[], lr: number, beta1: number, beta2: number, eps: number,
    weightDecay: number, step: number): NativeResult[];
  nnLinfStep(x: H, grad: H, x0: H, stepSize: number, eps: number, lo: number, hi: number): NativeResult;
  nnApgdLinfStep(xCur: H, xPrev: H, grad: H, x0: H, stepSize: H, a: number, eps: number, lo: number, hi: number): NativeResult;
  /** -> [xBestAdv', robust', increases', xBest', gradBest', lossBest'] */
  nnApgdTrack(xCur: H, grad: H, loss: H, lossPrev: H, logits: H, y: H, xBestAdv: H, robust: H, increases: H, xBest: H,
    gradBest: H, lossBest: H): NativeResult[];
  /** -> [best', margin'] */
  nnSquareAccept(logits: H, y: H, proposal: H, best: H, margin: H): NativeResult[];
  nnLinfBoxProjection(x: H, w: H, b: H): NativeResult;
}

/** Names of the binding's functions returning one tensor, and several. */
export type NativeOp = {
  [K in keyof TorchBinding]: TorchBinding[K] extends (...a: never[]) => NativeResult ? K : never;
}[keyof TorchBinding];
export type NativeMultiOp = {
  [K in keyof TorchBinding]: TorchBinding[K] extends (...a: never[]) => NativeResult[] ? K : never;
}[keyof TorchBinding];

export interface NativeLoad {
  binding?: TorchBinding;
  path: string;
  reason?: string;
  /** The engine's environment settings as they were when the addon was loaded (see engineSettings). */
  settings: Record<string, string>;
}

/**
 * The environment variables that change what the engine computes or how fast (TFJS_TORCH_*, and
 * the OpenMP runtime's OMP_* / GOMP_* / KMP_*), as set by the user: recorded with every result so
 * that a figure measured with a switch on or off says so.
 */
export function engineSettings(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of Object.keys(env).sort()) {
    const v = env[name];
    if (v !== undefined && /^(TFJS_TORCH_|OMP_|GOMP_|KMP_)/.test(name)) out[name] = v;
  }
  return out;
}

let cached: NativeLoad | undefined;

export function addonPath(): string {
  if (process.env.TFJS_TORCH_ADDON) return process.env.TFJS_TORCH_ADDON;
  const dir = process.env.TFJS_TORCH_DEVICE === 'cuda' ? 'build-cuda' : 'build';
  // src/native.ts and dist/native.js are both one level below the package root.
  return fileURLToPath(new URL(`../${dir}/tfjs_backend_torch.node`, import.meta.url));
}

/** TFJS_TORCH_OMP_SPINCOUNT as libgomp's GOMP_SPINCOUNT value; undefined when unset. */
function ompSpinCount(): string | undefined {
  const v = process.env.TFJS_TORCH_OMP_SPINCOUNT;
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v)) throw new Error(`TFJS_TORCH_OMP_SPINCOUNT: expected a non-negative integer (spin rounds before an OpenMP worker sleeps), got '${v}'`);
  return v;
}

export function loadNative(): NativeLoad {
  if (cached) return cached;
  const settings = engineSettings();
  const path = addonPath();
  if (!fs.existsSync(path)) {
    cached = {
      path,
      settings,
      reason: `native addon not found at ${path} (build it with \`npm run build:native\`; it needs Debian libtorch-dev or LIBTORCH)`,
    };
    return cached;
  }
  const spin = ompSpinCount();  // a malformed value is the user's error: thrown, not a fallback
  try {
    // libgomp reads this once, when libtorch loads. Its default spin-waiting makes every parallel
    // ATen op crawl when the cores are shared (measured: a small CNN step 115-130 ms spinning vs
    // 21 ms passive with 2 threads on a busy 2-core machine). An explicit setting wins.
    // It is unset again right after, so child processes (e.g. a PyTorch comparison) keep their default.
    const setPolicy = process.env.OMP_WAIT_POLICY === undefined;
    if (setPolicy) process.env.OMP_WAIT_POLICY = 'PASSIVE';
    // Opt-in for a machine this process has to itself: the workers spin this many rounds before
    // sleeping, so back-to-back kernels skip the wake-up (docs/engine-speed.md, "The addon's own loops on the OpenMP team, and waking the team").
    const setSpin = spin !== undefined && process.env.GOMP_SPINCOUNT === undefined;
    if (setSpin) process.env.GOMP_SPINCOUNT = spin;
    const require = createRequire(import.meta.url);
    let binding: TorchBinding;
    try {
      binding = require(path) as TorchBinding;
    } finally {
      if (setPolicy) delete process.env.OMP_WAIT_POLICY;
      if (setSpin) delete process.env.GOMP_SPINCOUNT;
    }
    if (process.env.TFJS_TORCH_DEVICE === 'cuda' && binding.device() !== 'cuda') {
      process.emitWarning(`TFJS_TORCH_DEVICE=cuda but ${path} has no usable CUDA device; tensors stay on the CPU`);
    }
    cached = { binding, path, settings };
  } catch (err) {
    cached = { path, settings, reason: `native addon at ${path} failed to load: ${(err as Error).message}` };
  }
  return cached;
}
