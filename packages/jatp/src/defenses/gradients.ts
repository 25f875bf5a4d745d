import * as tf from '@tensorflow/tfjs-core';
import { createRequire } from 'node:module';

/**
 * tfjs-core's Node bundle (`dist/tf-core.node.js`) registers no gradient functions: the union package
 * `@tensorflow/tfjs` normally imports `register_all_gradients`, and we depend on core alone. Recipes
 * call this before differentiating. It loads core's own gradient configs into the shared (global)
 * gradient registry once. The ESM dist files use extensionless imports, which resolve under tsx (how
 * tests and scripts run); if they cannot be loaded the error says so instead of a later
 * "gradient function not found".
 */
export function ensureGradientsRegistered(): void {
  if (tf.getGradient('Add') !== undefined) return;
  try {
    const require = createRequire(import.meta.url);
    require('@tensorflow/tfjs-core/dist/register_all_gradients');
  } catch (err) {
    throw new Error(`defenses/gradients.ts: could not register tfjs-core gradients (${(err as Error).message}); run through tsx or import a bundle that registers them`);
  }
  if (tf.getGradient('Add') === undefined) {
    throw new Error('defenses/gradients.ts: tfjs-core gradients still missing after loading register_all_gradients');
  }
}
