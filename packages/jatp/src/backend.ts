import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { ensureGradients } from './gradients.js';

/**
 * Picks the compute backend for the toolkit: `torch` (our libtorch engine) when its addon loads,
 * otherwise `cpu`, with one clear warning. `JATP_BACKEND=cpu|wasm|torch` forces a choice.
 * Every ML module is plain tfjs, so results do not depend on this choice beyond float rounding.
 */
export async function initBackend(preferred: string | undefined = process.env.JATP_BACKEND): Promise<string> {
  // Gradients and chained tensor methods (x.sum(), ...) come with the union package.
  ensureGradients();
  let torchReason: string | undefined;
  try {
    const torch = (await import('tfjs-backend-torch')) as { torchStatus?: () => { available: boolean; reason?: string } };
    const status = torch.torchStatus?.();
    if (status && !status.available) torchReason = status.reason;
  } catch (err) {
    torchReason = `could not import tfjs-backend-torch: ${(err as Error).message}`;
  }
  if (preferred) {
    if (preferred === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
    if (!(await tf.setBackend(preferred))) {
      throw new Error(`JATP_BACKEND=${preferred}: backend could not be initialised${preferred === 'torch' && torchReason ? ` (${torchReason})` : ''}`);
    }
  } else {
    if (torchReason !== undefined) {
      process.emitWarning(`libtorch engine unavailable (${torchReason}); falling back to the slow 'cpu' backend. Run ./bootstrap.sh to build it.`);
    }
    await tf.ready();
  }
  return tf.getBackend();
}

/** The values of `--precision` (conv/matmul arithmetic of a training run on the torch engine). */
export const PRECISIONS = ['fp32', 'tf32', 'bf16'] as const;
/** One of PRECISIONS: 'fp32' strict, 'tf32' GPU tensor cores, 'bf16' bfloat16 products of fp32 operands. */
export type TrainingPrecision = (typeof PRECISIONS)[number];

/**
 * Runs `fn` (a training run) with convolutions and matrix products in `precision` on the torch
 * engine, and restores strict fp32 afterwards, so attacks and evaluation that follow stay fp32
 * (low precision can mask gradients). `flag` names the option in errors. 'fp32' needs nothing;
 * 'tf32' only changes GPU math; 'bf16' warns when the CPU has no BF16 instructions (it then runs,
 * emulated, several times slower).
 */
export async function withTrainingPrecision<T>(precision: string | undefined, flag: string, fn: () => Promise<T>): Promise<T> {
  const p = (precision ?? 'fp32') as TrainingPrecision;
  if (!PRECISIONS.includes(p)) throw new Error(`${flag}: '${precision}' is not one of ${PRECISIONS.join(', ')}`);  // cli/flags.ts parseChoice's format
  if (p === 'fp32') return fn();
  if (tf.getBackend() !== 'torch') throw new Error(`${flag} ${p}: needs the torch engine (the active backend is '${tf.getBackend()}')`);
  const torch = (await import('tfjs-backend-torch')) as {
    setPrecision(p: TrainingPrecision): void; bf16Support(): 'native' | 'emulated';
  };
  if (p === 'bf16' && torch.bf16Support() === 'emulated') {
    process.emitWarning(`${flag} bf16: this CPU has no AVX-512-BF16/AMX; bf16 products are emulated (correct, but slower than fp32)`);
  }
  torch.setPrecision(p);
  try {
    return await fn();
  } finally {
    torch.setPrecision('fp32');
  }
}
