/**
 * tfjs-core's Node entry point registers no gradient functions (the `@tensorflow/tfjs` union package
 * and tfjs-layers do, by importing core's `register_all_gradients`). Training must not depend on a
 * model having been built through tfjs-layers first, so recipes call this once before any
 * `tf.grad`/`tf.variableGrads`. Idempotent and cheap after the first call.
 */
import * as tf from '@tensorflow/tfjs-core';
import { createRequire } from 'node:module';

export function ensureTrainingGradients(): void {
  if (tf.getGradient('Add') !== undefined) return;
  try {
    createRequire(import.meta.url)('@tensorflow/tfjs-core/dist/register_all_gradients');
  } catch (err) {
    throw new Error(`training/gradients.ts: cannot load tfjs-core's gradient registrations (${(err as Error).message})`);
  }
  if (tf.getGradient('Add') === undefined) throw new Error('training/gradients.ts: tfjs-core gradients are still missing after registration');
}
