/**
 * What is installed must be used. Where libtorch, Gloo or oneDNN (on a CPU with AVX-512, the only
 * one oneDNN 2 has Winograd kernels for) is installed, the engine built here must have the
 * feature; where the engine is required (TFJS_TORCH_REQUIRE=1 or CI=true, as .ci/run sets) it
 * must load at all. A broken build then fails here, once and by name, instead of silently turning
 * every engine test into a skip. The last tests check the rule itself: a run with the addon hidden
 * fails under TFJS_TORCH_REQUIRE=1, in this file and in the tfjs-core suite runner.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { distributedStatus, torchStatus, winogradStatus } from '../src/index.js';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));
/** Set in the child runs of the rule test below, so they do not start the rule test again. */
const PROBE = process.env.TT_INSTALLED_MEANS_PROBE === '1';
const required = process.env.TFJS_TORCH_REQUIRE === '1' || process.env.CI === 'true';
const status = torchStatus();

/** Debian's libtorch-dev (what build-native.mjs compiles against), or an explicit LIBTORCH. */
function libtorchInstalled(): string | undefined {
  if (process.env.LIBTORCH) return `LIBTORCH=${process.env.LIBTORCH}`;
  if (existsSync('/usr/include/ATen/ATen.h') && existsSync('/usr/include/torch/csrc/api/include')) return 'libtorch-dev (/usr/include/ATen)';
  return undefined;
}

/** Gloo's headers next to c10d's Gloo process group: distributed.cc then builds the 'gloo' backend. */
function glooInstalled(): boolean {
  return !process.env.LIBTORCH && existsSync('/usr/include/gloo/algorithm.h') &&
    existsSync('/usr/include/torch/csrc/distributed/c10d/ProcessGroupGloo.hpp');
}

/** oneDNN 2's C++ headers (libdnnl-dev), which build-native.mjs compiles the Winograd path against. */
function onednnInstalled(): boolean {
  const version = '/usr/include/oneapi/dnnl/dnnl_version.h';
  return !process.env.LIBTORCH && existsSync('/usr/include/oneapi/dnnl/dnnl.hpp') && existsSync(version) &&
    /#define\s+DNNL_VERSION_MAJOR\s+2\b/.test(readFileSync(version, 'utf8'));
}

function cpuHasAvx512(): boolean {
  try {
    return /^flags\s*:.*\bavx512f\b/m.test(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return false;
  }
}

test('the engine loads wherever libtorch is installed, and always under TFJS_TORCH_REQUIRE=1 / CI', (t) => {
  const installed = libtorchInstalled();
  if (!installed && !required) {
    t.skip('libtorch is not installed and the engine is not required (TFJS_TORCH_REQUIRE/CI unset)');
    return;
  }
  const why = installed ? `${installed} is installed` : 'TFJS_TORCH_REQUIRE=1 or CI=true requires the engine';
  assert.ok(status.available, `${why}, but the 'torch' backend is unavailable: ${status.reason}`);
  if (required) assert.ok(installed, 'the engine loaded, yet no libtorch was found where build-native.mjs looks');
});

test('the engine has c10d Gloo process groups wherever Gloo is installed', (t) => {
  if (!glooInstalled()) {
    t.skip('Gloo is not installed (libgloo-dev), or the engine is built against a LIBTORCH without it');
    return;
  }
  const s = distributedStatus();
  assert.ok(s.available && s.backends.includes('gloo'), `libgloo-dev is installed, but distributedStatus() = ${JSON.stringify(s)}`);
});

test('the engine has oneDNN\'s Winograd convolutions wherever oneDNN is installed, usable on AVX-512 CPUs', (t) => {
  if (!onednnInstalled()) {
    t.skip('oneDNN 2 headers are not installed (libdnnl-dev), or the engine is built against a LIBTORCH');
    return;
  }
  const w = winogradStatus();
  assert.ok(w?.built, `libdnnl-dev is installed, but the engine was built without Winograd: ${JSON.stringify(w ?? status.reason)}`);
  if (cpuHasAvx512()) assert.ok(w.supported, 'this CPU has AVX-512 (avx512f) but winogradStatus().supported is false');
  else t.diagnostic('no AVX-512 on this CPU: oneDNN 2 has no Winograd kernels here, so supported=false is expected');
});

/** Runs `args` with the addon pointed at a missing file (as if deleted after the build). */
function runHidden(args: string[], extra: Record<string, string>): { status: number | null; out: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, TFJS_TORCH_ADDON: '/nonexistent/hidden/tfjs_backend_torch.node', TT_INSTALLED_MEANS_PROBE: '1', ...extra };
  delete env.NODE_TEST_CONTEXT; // a child of a node:test file would otherwise report to this run
  if (extra.TFJS_TORCH_REQUIRE === undefined) delete env.TFJS_TORCH_REQUIRE;
  delete env.CI;
  delete env.LIBTORCH;
  const r = spawnSync(process.execPath, ['--import', 'tsx', ...args], { env, cwd: pkgDir, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
}

test('the rule itself: with the addon hidden, this file fails under TFJS_TORCH_REQUIRE=1', { skip: PROBE ? 'inside the probe run' : false }, () => {
  const self = fileURLToPath(import.meta.url);
  const r = runHidden(['--test', '--test-name-pattern=^the engine loads', self], { TFJS_TORCH_REQUIRE: '1' });
  assert.notEqual(r.status, 0, `expected a failing run:\n${r.out}`);
  assert.match(r.out, /# fail 1/);
  // "is installed" where libtorch-dev is (then the run fails even without the variable).
  assert.match(r.out, /(requires the engine|is installed), but the 'torch' backend is unavailable: native addon not found at \/nonexistent\/hidden/);
});

test('the rule itself: the tfjs-core suite runner exits 1 with the addon hidden under TFJS_TORCH_REQUIRE=1, 0 without it', { skip: PROBE ? 'inside the probe run' : false }, () => {
  const suite = fileURLToPath(new URL('./core_suite.ts', import.meta.url));
  const strict = runHidden([suite, '--files=ops/add_test'], { TFJS_TORCH_REQUIRE: '1' });
  assert.equal(strict.status, 1, strict.out);
  assert.match(strict.out, /core-suite: the torch backend is unavailable \(native addon not found at \/nonexistent\/hidden/);
  const lenient = runHidden([suite, '--files=ops/add_test'], {});
  assert.equal(lenient.status, 0, lenient.out);
});
