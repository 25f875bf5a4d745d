/**
 * The package as a user gets it: `npm pack` of jatp and tfjs-backend-torch (each from a staged copy
 * whose dist/ holds only the outputs of the current sources, see stage-package.ts), the two tarballs
 * installed into an empty temporary project OFFLINE (npm ci --offline against a lockfile derived from
 * the monorepo's, so every dependency comes from the npm cache that `npm ci` filled), then a short
 * TypeScript program importing only the package's named subpaths (`jatp/attacks`, ...) is type-checked and run there (consumer.ts):
 * APGD-CE and AutoAttack on a tf.sequential model on the `cpu` backend, and a pre-processor loaded
 * from a run folder on `torch` (through loadPreprocessor and through tf.loadLayersModel(jatpWeights)).
 * Its results must equal the monorepo's own (same code, same seeds), and importing the package must
 * not run the CLI (the program is started with `--help` in its argv).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { apgdCe } from '../../src/attacks/apgd.js';
import { buildNetwork } from '../../src/models/architectures.js';
import { loadNetwork, saveNetwork } from '../../src/models/weights.js';
import { ensureGradients } from '../../src/gradients.js';
import { orphanOutputs, stagePackage } from './stage-package.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../../../..');
const jatpDir = join(repo, 'packages/jatp');
const torchDir = join(repo, 'packages/tfjs-backend-torch');
const addon = join(torchDir, 'build/tfjs_backend_torch.node');
const skip = !existsSync(join(jatpDir, 'dist/index.js'))
  ? 'packages/jatp/dist is not built (run npx tsc -b packages/tfjs-backend-torch packages/jatp)'
  : !existsSync(addon)
    ? `the torch addon is not built (${addon}; run npm run build:native)`
    : false;

/** The consumer's package.json and package-lock.json: the two tarballs plus the monorepo's locked production dependencies. */
function writeProject(dir: string, jatpTgz: string, torchTgz: string): void {
  const lock = JSON.parse(readFileSync(join(repo, 'package-lock.json'), 'utf8')) as { packages: Record<string, Record<string, unknown>> };
  const manifest = (d: string) => JSON.parse(readFileSync(join(d, 'package.json'), 'utf8')) as { version: string; dependencies: Record<string, string> };
  const deps = { jatp: `file:./${jatpTgz}`, 'tfjs-backend-torch': `file:./${torchTgz}` };
  const packages: Record<string, unknown> = { '': { name: 'consumer', version: '1.0.0', dependencies: deps } };
  for (const [key, entry] of Object.entries(lock.packages)) {
    if (!key.startsWith('node_modules/') || entry['link'] || entry['dev']) continue;
    if (key === 'node_modules/jatp' || key === 'node_modules/tfjs-backend-torch') continue;
    packages[key] = entry;
  }
  for (const [name, d, tgz] of [['jatp', jatpDir, jatpTgz], ['tfjs-backend-torch', torchDir, torchTgz]] as const) {
    const m = manifest(d);
    packages[`node_modules/${name}`] = { version: m.version, resolved: `file:${tgz}`, dependencies: m.dependencies };
  }
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module', dependencies: deps }, null, 1));
  writeFileSync(join(dir, 'package-lock.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', lockfileVersion: 3, requires: true, packages }, null, 1));
}

const run = (cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): string => {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) failed with status ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
};

test('npm pack -> offline install into an empty project -> the public API attacks a tf.sequential (cpu) and loads a run folder (torch)', { skip }, async (t) => {
  const started = Date.now();
  const lap = (what: string): void => t.diagnostic(`${what}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const dir = mkdtempSync(join(tmpdir(), 'jatp-pack-'));
  const staging = mkdtempSync(join(tmpdir(), 'jatp-pack-stage-'));
  /** Packs a staged copy of `pkgDir` into `dir`; the tarball must hold no compiled module without its source. */
  const pack = (pkgDir: string, name: string): string => {
    const staged = stagePackage(pkgDir, join(staging, name));
    const [report] = JSON.parse(run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], staged)) as { filename: string; files: { path: string }[] }[];
    assert.deepEqual(orphanOutputs(report!.files.map((f) => f.path), join(pkgDir, 'src')), [], `${name}'s tarball ships stale dist/ files`);
    return report!.filename;
  };
  try {
    const jatpTgz = pack(jatpDir, 'jatp');
    const torchTgz = pack(torchDir, 'tfjs-backend-torch');
    writeProject(dir, jatpTgz, torchTgz);
    lap('packed');
    run('npm', ['ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], dir);
    lap('installed offline');
    // Installed from the tarball: a real folder with the built entry point, not a link into the monorepo.
    assert.ok(existsSync(join(dir, 'node_modules/jatp/dist/index.d.ts')));
    assert.ok(!existsSync(join(dir, 'node_modules/jatp/src')), 'the tarball ships dist/, not the sources');

    // Fixtures: a linear 4-class classifier on 8x8x1 images, and a run folder with a small purifier.
    const kernel = Array.from({ length: 64 * 4 }, (_, i) => Math.sin(1.3 * i + 0.2));
    const bias = [0.1, -0.2, 0.05, 0];
    const n = 8;
    const x = Array.from({ length: n * 64 }, (_, i) => 0.5 + 0.45 * Math.sin(0.7 * i));
    await tf.setBackend('cpu');
    ensureGradients();
    const w = tf.tensor2d(kernel, [64, 4]);
    const b = tf.tensor1d(bias);
    const model = (z: tf.Tensor4D) => tf.tidy(() => tf.add(tf.matMul(tf.reshape(z, [z.shape[0], 64]), w), b) as tf.Tensor2D);
    const xt = tf.tensor4d(x, [n, 8, 8, 1]);
    const predict = (z: tf.Tensor4D): number[] => tf.tidy(() => Array.from(tf.argMax(model(z), 1).dataSync()));
    // Labels = clean predictions, so every point starts robust; at this eps some survive AutoAttack.
    const y = predict(xt);
    const eps = 0.01;
    writeFileSync(join(dir, 'fixture.json'), JSON.stringify({ kernel, bias, x, y, eps }));
    const purifier = buildNetwork('jatp-purifier', { nf: 4, gc: 2, nb: 1, inChannels: 1, inputSize: 8, seed: 5 });
    mkdirSync(join(dir, 'run/last'), { recursive: true });
    await saveNetwork(purifier, join(dir, 'run/last/model.safetensors'));
    purifier.dispose();

    // Type-check and compile the consumer against the installed package's .d.ts, then run it.
    copyFileSync(join(here, 'consumer.ts'), join(dir, 'consumer.ts'));
    const tsc = join(repo, 'node_modules/typescript/bin/tsc');
    run(process.execPath, [tsc, 'consumer.ts', '--outDir', 'out', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--strict', '--skipLibCheck', '--types', 'node', '--typeRoots', join(repo, 'node_modules/@types')], dir);
    lap('consumer type-checked and compiled');
    const stdout = run(process.execPath, ['out/consumer.js', join(dir, 'run'), join(dir, 'fixture.json'), '--help'], dir, { ...process.env, TFJS_TORCH_ADDON: addon, TFJS_TORCH_NUM_THREADS: '1' });
    lap('consumer ran');
    const line = stdout.trim().split('\n').pop()!;
    assert.ok(line.startsWith('{'), `the consumer printed no result (did importing jatp run the CLI?):\n${stdout}`);
    const got = JSON.parse(line) as {
      backend: string; apgdSuccess: boolean[]; aaSuccess: boolean[]; aaStages: Array<[string, number]>; aaMaxDelta: number; aaAdv: number[];
      purifiedShape: number[]; purified: number[]; handlerVsLoader: number;
    };

    // APGD: the same computation in this process, from the sources, on cpu, gives the same outcome.
    const yt = tf.tensor1d(y, 'int32');
    const apgd = apgdCe({ eps, nIter: 20 }).run(model, xt, yt, 1);
    assert.deepEqual(got.apgdSuccess, apgd.success);
    // AutoAttack (standard; not re-run here to keep the test short), checked against this process's model:
    // its adversarial images stay in the ball, fool the model exactly where it claims success, and its
    // stage accuracies fall monotonically to the final one, at or below APGD-CE's.
    assert.ok(got.aaMaxDelta <= eps + 1e-6, `max |xAdv - x| = ${got.aaMaxDelta}`);
    const xAdvGot = tf.tensor4d(got.aaAdv, [n, 8, 8, 1]);
    const advPred = predict(xAdvGot);
    xAdvGot.dispose();
    assert.deepEqual(advPred.map((p, i) => p !== y[i]), got.aaSuccess);
    assert.deepEqual(got.aaStages.map((s) => s[0]), ['apgd-ce', 'apgd-t', 'fab-t', 'square']);
    const accs = got.aaStages.map((s) => s[1]);
    accs.forEach((a, i) => assert.ok(i === 0 || a <= accs[i - 1]!, `stage accuracies ${accs}`));
    assert.equal(accs[accs.length - 1], got.aaSuccess.filter((s) => !s).length / n);
    assert.ok(accs[0]! <= apgd.success.filter((s) => !s).length / n + 1e-12);
    assert.ok(got.aaSuccess.some(Boolean) && !got.aaSuccess.every(Boolean), `a non-trivial AutoAttack outcome: ${got.aaSuccess}`);
    assert.equal(got.backend, 'torch');
    const reference = await loadNetwork(join(dir, 'run/last/model.safetensors'));
    const want = tf.tidy(() => Array.from(reference.apply(tf.tensor4d(x.slice(0, 128), [2, 8, 8, 1]), false).dataSync()));
    reference.dispose();
    assert.deepEqual(got.purifiedShape, [2, 8, 8, 1]);
    const worst = Math.max(...want.map((v, i) => Math.abs(v - got.purified[i]!)));
    assert.ok(worst < 1e-4, `torch purifier vs cpu reference: max |diff| ${worst}`);
    assert.ok(got.handlerVsLoader < 1e-5, `tf.loadLayersModel(jatpWeights) vs loadPreprocessor: ${got.handlerVsLoader}`);
    // The CLI still works from the installed package.
    assert.match(execFileSync(process.execPath, [join(dir, 'node_modules/jatp/bin/jatp.js'), 'models', 'list'], { cwd: dir, encoding: 'utf8' }), /jatp-purifier/);
    tf.dispose([w, b, xt, yt, apgd.xAdv]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(staging, { recursive: true, force: true });
  }
});
