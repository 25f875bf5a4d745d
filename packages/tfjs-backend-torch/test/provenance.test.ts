/**
 * provenance(): what results files and benchmarks record about their origin. Each field against
 * an independent source: git itself, /proc/cpuinfo, the addon's own status calls; and the cases
 * where something is unknown (no addon, a package under node_modules, no git checkout).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { distributedStatus, gitCommit, provenance, torchStatus, winogradStatus } from '../src/index.js';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));

test('provenance(): the checkout\'s commit, the CPU model of /proc/cpuinfo, a current date, the engine\'s own status', (t) => {
  const p = provenance();
  let head: string | undefined;
  try {
    head = execFileSync('git', ['-C', pkgDir, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch { /* no git or no checkout: then 'unknown' */ }
  assert.equal(p.commit, head ?? 'unknown');
  if (head) assert.equal(typeof p.dirty, 'boolean');
  const cpuinfo = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim();
  if (cpuinfo) assert.equal(p.cpuModel, cpuinfo);
  else t.diagnostic('no model name in /proc/cpuinfo: os.cpus() named the CPU');
  assert.ok(Math.abs(Date.parse(p.date) - Date.now()) < 60_000, p.date);
  const s = torchStatus();
  assert.equal(p.engine.available, s.available);
  if (s.available) {
    assert.equal(p.engine.libtorch, s.torchVersion);
    assert.equal(p.engine.device, s.device);
    const w = winogradStatus()!;
    assert.deepEqual(p.engine.winograd, { built: w.built, supported: w.supported, enabled: w.enabled });
    const d = distributedStatus();
    assert.deepEqual(p.engine.distributedBackends, d.available ? d.backends : []);
    assert.equal(p.engine.gloo, d.backends.includes('gloo'));
  } else {
    assert.equal(p.engine.reason, s.reason);
  }
});

test('provenance(): the engine switches set in the environment at load are recorded, and nothing else', () => {
  const index = fileURLToPath(new URL('../src/index.ts', import.meta.url));
  const script = `const m = await import(${JSON.stringify(index)}); console.log(JSON.stringify(m.provenance().engine.settings));`;
  // Start from an environment without any engine switch, then set two and an unrelated variable.
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(TFJS_TORCH_|OMP_|GOMP_|KMP_)/.test(k)) env[k] = v;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    env: { ...env, TFJS_TORCH_PARALLEL_RANGE: '0', GOMP_SPINCOUNT: '500', JATP_UNRELATED: '1' }, encoding: 'utf8', cwd: pkgDir,
  });
  assert.equal(r.status, 0, r.stderr);
  // OMP_WAIT_POLICY, which the loader sets for the addon itself, is not the user's and is not listed.
  assert.deepEqual(JSON.parse(r.stdout.trim().split('\n').pop()!), { GOMP_SPINCOUNT: '500', TFJS_TORCH_PARALLEL_RANGE: '0' });
});

test('provenance(): without the addon the engine is recorded as unavailable, with the reason', () => {
  const index = fileURLToPath(new URL('../src/index.ts', import.meta.url));
  const script = `const m = await import(${JSON.stringify(index)}); console.log(JSON.stringify(m.provenance().engine));`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    env: { ...process.env, TFJS_TORCH_ADDON: '/nonexistent/tfjs_backend_torch.node' }, encoding: 'utf8', cwd: pkgDir,
  });
  assert.equal(r.status, 0, r.stderr);
  const engine = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.equal(engine.available, false);
  assert.match(engine.reason, /native addon not found at \/nonexistent\//);
  assert.equal(engine.gloo, false);
});

test('gitCommit(): "unknown" outside a git checkout and for a package installed under node_modules', () => {
  const dir = mkdtempSync(join(tmpdir(), 'provenance-'));
  try {
    assert.deepEqual(gitCommit(dir), { commit: 'unknown' });
    const installed = join(pkgDir, 'node_modules', 'some-package');
    assert.deepEqual(gitCommit(installed), { commit: 'unknown' }, 'not the commit of the project that installed it');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
