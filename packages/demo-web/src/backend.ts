/**
 * Picks the page's tfjs backend: webgl, else wasm, else cpu (`?backend=` in the URL forces one).
 * The wasm binaries are served next to index.html (copied there by the site builder), so nothing
 * is fetched from a CDN.
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
      if (await tf.setBackend(name)) return { backend: tf.getBackend(), tried };
      tried.push(`${name}: unavailable`);
    } catch (err) {
      tried.push(`${name}: ${(err as Error).message}`);
    }
  }
  throw new Error(`no tfjs backend could start (${tried.join('; ')})`);
}
