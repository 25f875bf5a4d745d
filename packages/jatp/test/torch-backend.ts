import * as tf from '@tensorflow/tfjs-core';

/**
 * Makes the engine's 'torch' backend active for a test that compares it with 'cpu'; false (and
 * the backend unchanged) when the addon is not built, so the test can skip with a message.
 */
export async function useTorchBackend(): Promise<boolean> {
  try {
    await import('tfjs-backend-torch');
    return await tf.setBackend('torch');
  } catch {
    return false;
  }
}
