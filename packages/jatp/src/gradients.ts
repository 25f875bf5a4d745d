import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';

/**
 * tfjs-core's Node bundle registers no gradient functions: the `@tensorflow/tfjs` union package does
 * (its bundle carries every gradient config and registers them in the process-global registry), and
 * `register_all_gradients` from core's ESM dist cannot be loaded by plain Node (extensionless imports).
 * So the toolkit loads the union package once, before any tf.grad. Idempotent and cheap after the
 * first call. The union also brings the converter (`loadGraphModel`) used by `jatp eval --model`.
 */
export function ensureGradients(): void {
  if (tf.getGradient('Relu') !== undefined) return;
  createRequire(import.meta.url)('@tensorflow/tfjs');
  if (tf.getGradient('Relu') === undefined) {
    throw new Error('gradients.ts: tfjs gradients still missing after loading @tensorflow/tfjs');
  }
}
