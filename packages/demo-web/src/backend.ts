/**
 * Picks the page's tfjs backend: webgl, else wasm, else cpu (`?backend=` in the URL forces one).
 * The wasm binaries are served next to index.html (copied there by the site builder), so nothing
 * is fetched from a CDN. A backend is only kept if it can differentiate a convolution the way
 * tfjs-layers runs one (fused with its bias): that op's gradient computes the filter gradient too,
 * even for an input-gradient attack, and tfjs-backend-wasm 4.22 lacks that kernel
 * (Conv2DBackpropFilter); such a backend is skipped, with the reason kept in `tried`.
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

export const BACKEND_ORDER = ['webgl', 'wasm', 'cpu'] as const;

export async function pickBackend(forced: string | null): Promise<{ backend: string; tried: string[] }> {
  setWasmPaths(new URL('./', document.baseURI).href);
  const order: readonly string[] = forced ? [forced] : BACKEND_ORDER;
  const tried: string[] = [];
  for (const name of order) {
    try {
      // setBackend resolves false (or throws) when the backend cannot start, e.g. no WebGL context.
      if (!(await tf.setBackend(name))) {
        tried.push(`${name}: unavailable`);
        continue;
      }
      const problem = gradientProblem();
      if (problem === undefined) return { backend: tf.getBackend(), tried };
      tried.push(`${name}: ${problem}`);
    } catch (err) {
      tried.push(`${name}: ${(err as Error).message}`);
    }
  }
  throw new Error(`no tfjs backend could start (${tried.join('; ')})`);
}

/** Why the active backend cannot run the attacks' gradients, or undefined when it can. */
function gradientProblem(): string | undefined {
  try {
    tf.tidy(() => {
      const kernel = tf.ones([2, 2, 1, 1]) as tf.Tensor4D;
      // The fused form, as tfjs-layers runs a convolution with a bias: its custom gradient computes
      // the gradients of all its inputs, the filter's included.
      const conv = (x: tf.Tensor) => tf.fused.conv2d({ x: x as tf.Tensor4D, filter: kernel, strides: 1, pad: 'same', bias: tf.zeros([1]) });
      const grad = tf.grad((x: tf.Tensor) => tf.sum(conv(x)))(tf.ones([1, 3, 3, 1]));
      grad.dataSync();
    });
    return undefined;
  } catch (err) {
    return `cannot differentiate a convolution (${(err as Error).message})`;
  }
}
