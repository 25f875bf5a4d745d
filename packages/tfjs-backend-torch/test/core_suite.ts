/**
 * Runs tfjs-core's own backend-agnostic test suite (the `dist/**\/*_test.js` files of the npm
 * package) against the 'torch' backend, the way tfjs-node runs it against 'tensorflow'
 * (guide §2). Not a node:test file: run it with
 *
 *   npx tsx packages/tfjs-backend-torch/test/core_suite.ts [--files=tests | --files=ops/add_test,ops/sub_test]
 *       [--grep=REGEX] [--include-excluded]
 *
 * The test environment is set before any spec file loads (describeWithFlags expands per
 * environment at load time). Specs in EXCLUDE are skipped, each for the reason given. After every
 * spec the native handle count must equal the handles the live backend owns (a native leak check
 * on top of tfjs's own per-kernel data-id check). Ends with the line
 * `core-suite: N passed, N failed, N skipped` and exits 1 on any failure. With
 * `CORE_SUITE_SKIPS=<file>` every skipped spec is also written there as a JSON line with its reason
 * (scripts/test.sh lists them at the end of the run).
 */
import { appendFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import Jasmine from 'jasmine';

import { TorchBackend, kernelStats, nativeBinding, torchStatus } from '../src/index.js';

/**
 * Specs excluded on 'torch', matched as substrings of the full spec name. Versioned with this
 * file; every entry says why. Keep it short: the goal is that everything passing on cpu passes here.
 */
export const EXCLUDE: Array<[string, string]> = [
  // v2 (2026-11-25), tfjs-core 4.22.0, libtorch 1.13.1: empty. v1 excluded five nn-kernel specs
  // (max-pool NaN, 1x1 pools with p=1, BatchMatMul on a vector, a malformed conv2dTranspose); the
  // nn kernels now match tfjs there (commit c485d02). Check an entry with --include-excluded.
]

// The dist files are ES modules with extensionless imports (and a `gradients.js` next to a
// `gradients/` folder), which only CommonJS resolution gets right: load them through tsx's require.
const require = createRequire(import.meta.url);
const tf = require('@tensorflow/tfjs-core/dist/index') as typeof import('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops');
require('@tensorflow/tfjs-core/dist/register_all_gradients');
const { setTestEnvs } = require('@tensorflow/tfjs-core/dist/jasmine_util') as {
  setTestEnvs(envs: Array<{ name: string; backendName: string; flags: object; isDataSync: boolean }>): void;
};

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const files = (opt('files') ?? 'tests').split(',').filter(Boolean);
const grep = opt('grep');
const grepRe = grep ? new RegExp(grep) : null;
// --include-excluded: run the EXCLUDE entries too (to check whether one can be dropped).
const includeExcluded = args.includes('--include-excluded');

/** Records a skipped spec (or the whole suite) for the run's closing list, when asked to. */
function recordSkip(name: string, reason: string): void {
  const file = process.env.CORE_SUITE_SKIPS;
  if (file) appendFileSync(file, `${JSON.stringify({ file: 'tfjs-core suite', name, kind: 'skip', reason })}\n`);
}

async function main(): Promise<number> {
  const status = torchStatus();
  if (!status.available) {
    recordSkip('every spec', `the torch backend is unavailable: ${status.reason}`);
    console.log(`core-suite: the torch backend is unavailable (${status.reason}); nothing run`);
    console.log('core-suite: 0 passed, 0 failed, 0 skipped');
    return process.env.TFJS_TORCH_REQUIRE === '1' ? 1 : 0;
  }
  const binding = nativeBinding()!;
  setTestEnvs([{ name: 'test-torch', backendName: 'torch', flags: {}, isDataSync: true }]);

  const runner = new Jasmine({});
  runner.exitOnCompletion = false;
  const env = runner.env;
  env.configure({
    random: false,
    specFilter: (spec: { getFullName(): string }) => {
      const name = spec.getFullName();
      if (grepRe && !grepRe.test(name)) return false;
      return includeExcluded || !EXCLUDE.some(([s]) => name.includes(s));
    },
  });

  // The native leak check: handles alive in the table == handles owned by the live backend.
  (globalThis as unknown as { afterEach(fn: () => void): void }).afterEach(() => {
    const be = (tf.engine() as unknown as { registry: Record<string, unknown> }).registry['torch'] as TorchBackend | undefined;
    const owned = be ? be.numNativeHandles() : 0;
    const alive = binding.count();
    if (alive !== owned) {
      throw new Error(`native leak: ${alive} ATen tensors alive, the backend owns ${owned}`);
    }
  });

  for (const f of files) {
    const spec = f === 'tests' ? 'tests' : f.replace(/\.js$/, '');
    require(`@tensorflow/tfjs-core/dist/${spec}`);
  }

  let passed = 0, failed = 0, skipped = 0, excluded = 0, total = 0;
  const failures: string[] = [];
  env.clearReporters();
  env.addReporter({
    specDone(r: { status: string; fullName: string; pendingReason?: string; failedExpectations: Array<{ message: string }> }) {
      total++;
      if (r.status === 'passed') passed++;
      else if (r.status === 'failed') {
        failed++;
        failures.push(`FAIL ${r.fullName}\n    ${r.failedExpectations.map((e) => e.message.split('\n')[0]).slice(0, 2).join('\n    ')}`);
      } else {
        skipped++;
        const exclusion = EXCLUDE.find(([x]) => r.fullName.includes(x));
        if (exclusion) excluded++;
        // Specs left out by --grep are not skips of this run's scope; the others are listed.
        if (exclusion) recordSkip(r.fullName, `excluded on torch: ${exclusion[1]}`);
        else if (r.status !== 'excluded') {
          recordSkip(r.fullName, `pending in tfjs-core's own suite${r.pendingReason ? `: ${r.pendingReason}` : ' (xit/xdescribe upstream)'}`);
        }
      }
    },
  });
  const t0 = Date.now();
  const result = await runner.execute();
  for (const f of failures) console.log(f);
  const top = [...kernelStats.fallbackByKernel.entries()].sort((a, b) => b[1] - a[1]).slice(0, 20);
  console.log(`core-suite: kernel calls: ${kernelStats.native} native, ${kernelStats.fallback} fallback` +
    ` (${(100 * kernelStats.native / Math.max(1, kernelStats.native + kernelStats.fallback)).toFixed(1)}% native)`);
  console.log(`core-suite: top fallback kernels: ${top.map(([k, n]) => `${k}=${n}`).join(', ') || 'none'}`);
  console.log(`core-suite: ${EXCLUDE.length} exclusion entries; ${((Date.now() - t0) / 1000).toFixed(1)} s; overall ${result.overallStatus}`);
  console.log(`core-suite: passed/excluded/total = ${passed}/${excluded}/${total}` +
    ` (${skipped - excluded} more skipped by the tfjs suite itself${grepRe ? ', or by --grep' : ''})`);
  console.log(`core-suite: ${passed} passed, ${failed} failed, ${skipped} skipped`);
  return failed > 0 || result.overallStatus === 'failed' ? 1 : 0;
}

main().then((code) => process.exit(code), (err) => {
  console.error(err);
  process.exit(1);
});
