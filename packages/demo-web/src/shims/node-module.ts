/**
 * Stand-in for `node:module` in the browser bundle. The toolkit's gradients.ts reaches for
 * `createRequire` only when tfjs' gradient functions are missing; the page imports the
 * `@tensorflow/tfjs` union first, which registers them, so this is never called. If it ever is,
 * the error says why instead of a bundler failure at build time.
 */
export function createRequire(): never {
  throw new Error('node:module is not available in the browser: import @tensorflow/tfjs before the jatp attacks');
}
