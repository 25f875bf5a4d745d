/**
 * Small convolutions and products run on one OpenMP thread (native/threads.cc SerialIfSmall):
 * the results match cpu like any other, and the team size the caller set is back afterwards
 * (a guard that failed to restore it would leave the whole engine single-threaded).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { nativeBinding, setNumThreads } from '../src/index.js';
import { expectSameAsCpu, skipReason, tf } from './nn_helpers.js';

const skip = skipReason();

test('small conv and matmul match cpu and leave the thread count as it was', { skip }, async () => {
  const b = nativeBinding()!;
  const original = b.getNumThreads();
  try {
    setNumThreads(2);
    await expectSameAsCpu('small conv2d + grads', [{ shape: [2, 6, 6, 3] }, { shape: [3, 3, 3, 4] }, { shape: [2, 6, 6, 4] }],
      (x, f, r) => [tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, 'same'),
        ...tf.grads((a: tf.Tensor, w: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, w as tf.Tensor4D, 1, 'same'), r)))([x, f])]);
    await expectSameAsCpu('small matmul', [{ shape: [4, 10] }, { shape: [10, 3] }], (a, w) => tf.matMul(a, w));
    assert.equal(b.getNumThreads(), 2, 'a small kernel left the OpenMP team size changed');
    // A large product keeps the team (and leaves it at 2 as well).
    await tf.setBackend('torch');
    tf.tidy(() => tf.matMul(tf.ones([256, 256]), tf.ones([256, 256])).dataSync());
    assert.equal(b.getNumThreads(), 2);
  } finally {
    setNumThreads(original);
  }
});

test('TFJS_TORCH_OMP_SPINCOUNT is set for libgomp only while the addon loads; a malformed value is an error naming it', { skip }, () => {
  const pkgDir = fileURLToPath(new URL('..', import.meta.url));
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.GOMP_SPINCOUNT;  // a user's own GOMP_SPINCOUNT would win over the variable
  const probe = (value: string) => spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e',
    "const m = await import('./src/index.ts'); console.log(JSON.stringify({ available: m.torchStatus().available, left: process.env.GOMP_SPINCOUNT ?? null }));"],
  { cwd: pkgDir, encoding: 'utf8', env: { ...env, TFJS_TORCH_OMP_SPINCOUNT: value } });
  const ok = probe('10000');
  assert.equal(ok.status, 0, ok.stderr);
  // Loaded, and GOMP_SPINCOUNT is gone again, so child processes (a PyTorch reference) keep their default.
  assert.deepEqual(JSON.parse(ok.stdout.trim().split('\n').pop()!), { available: true, left: null });
  const bad = probe('1e4');
  assert.notEqual(bad.status, 0, 'a malformed spin count must not load silently');
  assert.match(bad.stderr, /TFJS_TORCH_OMP_SPINCOUNT: expected a non-negative integer/);
});
