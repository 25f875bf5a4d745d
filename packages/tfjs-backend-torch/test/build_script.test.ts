/**
 * The native build must never break an install: with no usable libtorch it prints one clear
 * message and exits 0 (the package then reports the backend unavailable at import). Where the
 * engine is required (TFJS_TORCH_REQUIRE=1 or CI=true, as .ci/run sets), a missing libtorch or
 * compiler fails the build instead, so CI cannot go green with every engine test skipped.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('../scripts/build-native.mjs', import.meta.url));

/** The environment without the variables that make the engine required. */
function optionalEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  delete env.TFJS_TORCH_REQUIRE;
  delete env.CI;
  return env;
}

test('build-native exits 0 with one clear message when libtorch is missing', () => {
  const r = spawnSync(process.execPath, [script], { env: optionalEnv({ LIBTORCH: '/nonexistent/torch' }), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1, r.stdout);
  assert.match(lines[0], /skipped: LIBTORCH=\/nonexistent\/torch: expected .*ATen\.h/);
  assert.match(lines[0], /'torch' backend will be unavailable/);
});

test('with TFJS_TORCH_REQUIRE=1 or CI=true, a missing libtorch fails the build (exit 1) naming what is missing', () => {
  for (const flag of [{ TFJS_TORCH_REQUIRE: '1' }, { CI: 'true' }]) {
    const r = spawnSync(process.execPath, [script], { env: { ...optionalEnv({ LIBTORCH: '/nonexistent/torch' }), ...flag }, encoding: 'utf8' });
    assert.equal(r.status, 1, `${JSON.stringify(flag)}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /FAILED: LIBTORCH=\/nonexistent\/torch: expected .*ATen\.h.*the engine is required here/);
  }
});

test('a missing compiler: a note and exit 0 normally, exit 1 under TFJS_TORCH_REQUIRE=1', { skip: process.env.LIBTORCH ? 'LIBTORCH is set (this case probes the system libtorch)' : false }, () => {
  const emptyPath = mkdtempSync(join(tmpdir(), 'no-compiler-')); // a PATH on which no g++ is found
  try {
    const plain = spawnSync(process.execPath, [script], { env: optionalEnv({ PATH: emptyPath }), encoding: 'utf8' });
    const required = spawnSync(process.execPath, [script], { env: { ...optionalEnv({ PATH: emptyPath }), TFJS_TORCH_REQUIRE: '1' }, encoding: 'utf8' });
    // Without a system libtorch the build stops one step earlier, for that reason instead.
    const why = existsSync('/usr/include/ATen/ATen.h') ? /g\+\+ not found/ : /libtorch not found|node_api\.h/;
    assert.equal(plain.status, 0, plain.stderr);
    assert.match(plain.stdout, new RegExp(`skipped: (${why.source})`));
    assert.equal(required.status, 1, required.stdout);
    assert.match(required.stderr, new RegExp(`FAILED: (${why.source})`));
  } finally {
    rmSync(emptyPath, { recursive: true, force: true });
  }
});
