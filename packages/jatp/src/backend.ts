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
