/**
 * Without a loadable addon (libtorch missing, addon not built), importing the package must not
 * throw, torchStatus() must say why, and tfjs keeps working on another backend. Simulated in a
 * child process whose loader is pointed at a missing file. Also: the thread-count variable.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

test('importing with the addon absent does not throw and torchStatus() explains', () => {
  const index = fileURLToPath(new URL('../src/index.ts', import.meta.url));
  const script = `
    const tf = await import('@tensorflow/tfjs-core');
    await import('@tensorflow/tfjs-backend-cpu');
    const m = await import(${JSON.stringify(index)});
    const s = m.torchStatus();
    await tf.ready();
    console.log(JSON.stringify({ status: s, backend: tf.getBackend(), sum: tf.sum(tf.tensor1d([1, 2, 3])).dataSync()[0], binding: m.nativeBinding() === undefined }));
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    env: { ...process.env, TFJS_TORCH_ADDON: '/nonexistent/tfjs_backend_torch.node' },
    encoding: 'utf8',
    cwd: fileURLToPath(new URL('..', import.meta.url)),
  });
  assert.equal(r.status, 0, `child failed: ${r.stderr}`);
  const line = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop()!;
  const out = JSON.parse(line);
  assert.equal(out.status.available, false);
  assert.match(out.status.reason, /not found at \/nonexistent\/tfjs_backend_torch\.node/);
  assert.equal(out.backend, 'cpu');
  assert.equal(out.sum, 6);
  assert.equal(out.binding, true);
  // Exactly one warning naming the reason.
  const warnings = r.stderr.split('\n').filter((l) => l.includes("the 'torch' backend is unavailable"));
  assert.equal(warnings.length, 1, r.stderr);
});

test('TFJS_TORCH_NUM_THREADS sets ATen\'s thread count at load', { skip: process.env.TFJS_TORCH_ADDON !== undefined && `TFJS_TORCH_ADDON=${process.env.TFJS_TORCH_ADDON} overrides the addon` }, (t) => {
  const index = fileURLToPath(new URL('../src/index.ts', import.meta.url));
  const script = `
    const m = await import(${JSON.stringify(index)});
    const s = m.torchStatus();
    if (!s.available) { console.log(JSON.stringify({ skip: s.reason })); process.exit(0); }
    m.setNumThreads(2);
    console.log(JSON.stringify({ atLoad: s.numThreads, after: m.nativeBinding().getNumThreads() }));
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    env: { ...process.env, TFJS_TORCH_NUM_THREADS: '1' },
    encoding: 'utf8',
    cwd: fileURLToPath(new URL('..', import.meta.url)),
  });
  assert.equal(r.status, 0, `child failed: ${r.stderr}`);
  const out = JSON.parse(r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop()!);
  if (out.skip) {
    t.skip(`torch backend unavailable: ${out.skip}`);
    return;
  }
  assert.equal(out.atLoad, 1);
  assert.equal(out.after, 2);
});
