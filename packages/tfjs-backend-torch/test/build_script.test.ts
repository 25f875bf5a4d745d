/**
 * The native build must never break an install: with no usable libtorch it prints one clear
 * message and exits 0 (the package then reports the backend unavailable at import).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('../scripts/build-native.mjs', import.meta.url));

test('build-native exits 0 with one clear message when libtorch is missing', () => {
  const r = spawnSync(process.execPath, [script], {
    env: { ...process.env, LIBTORCH: '/nonexistent/torch' },
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1, r.stdout);
  assert.match(lines[0], /skipped: LIBTORCH=\/nonexistent\/torch: expected .*ATen\.h/);
  assert.match(lines[0], /'torch' backend will be unavailable/);
});
