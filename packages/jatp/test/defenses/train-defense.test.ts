/**
 * End-to-end `train-defense` runs through the shared loop on tiny image-folder datasets written by
 * the test (PNG files, read by the data module's folder reader): the CLI action, stop-and-resume
 * (bitwise equal to an uninterrupted run), and a baseline on cached oblivious examples with crop/flip
 * augmentation of the paired batches. (28x28 Fashion-MNIST is too slow for a unit test on the cpu
 * backend: one JATP step takes over a minute there, dominated by conv filter gradients.)
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { buildClassifier } from '../../src/models/architectures.js';
import { loadNetwork, saveNetwork } from '../../src/models/weights.js';
import { silentProgress } from '../../src/training/progress.js';
import { trainDefense } from '../../src/defenses/train.js';
import { loadPreprocessor } from '../../src/defenses/load-networks.js';
import { defenseDefaults, type DefenseConfig } from '../../src/defenses/presets.js';
import { runTrainDefense } from '../../src/cli/train-defense.js';
import { PNG } from 'pngjs';
import { ensureGradients } from '../../src/gradients.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'jatp-train-defense-'));
const targetDir = path.join(root, 'target');
const target16Dir = path.join(root, 'target16');
const data8 = `folder:${path.join(root, 'data8')}`;
const data16 = `folder:${path.join(root, 'data16')}`;

/** <dir>/{train,test}/<class>/<i>.png: 3 classes, `perClass` train and 2 test images each, size x size RGB. */
function writeFolderDataset(dir: string, size: number, perClass: number): void {
  for (const [splitName, n] of [['train', perClass], ['test', 2]] as const) {
    for (let c = 0; c < 3; c++) {
      const classDir = path.join(dir, splitName, `class${c}`);
      fs.mkdirSync(classDir, { recursive: true });
      for (let i = 0; i < n; i++) {
        const png = new PNG({ width: size, height: size });
        for (let p = 0; p < size * size; p++) {
          // Class c is brighter in channel c, plus a deterministic texture.
          for (let k = 0; k < 3; k++) png.data[4 * p + k] = (k === c ? 120 : 20) + ((p * 31 + i * 17 + k * 7) % 100);
          png.data[4 * p + 3] = 255;
        }
        fs.writeFileSync(path.join(classDir, `${i}.png`), PNG.sync.write(png));
      }
    }
  }
}

before(async () => {
  process.env['JATP_BACKEND'] = 'cpu';
  await tf.setBackend('cpu');
  ensureGradients();
  writeFolderDataset(path.join(root, 'data8'), 8, 4);
  writeFolderDataset(path.join(root, 'data16'), 16, 4);
  const target = buildClassifier('small-cnn', { width: 4, inputSize: 8, inChannels: 3, numClasses: 3, seed: 1 });
  await saveNetwork(target, path.join(targetDir, 'last', 'model.safetensors'), { dataset: 'tiny' });
  target.dispose();
  const target16 = buildClassifier('small-cnn', { width: 4, inputSize: 16, inChannels: 3, numClasses: 3, seed: 2 });
  await saveNetwork(target16, path.join(target16Dir, 'last', 'model.safetensors'), { dataset: 'tiny16' });
  target16.dispose();
});
after(() => fs.rmSync(root, { recursive: true, force: true }));

/** A tiny JATP config: 4 images per class, batch 6 (2 steps per epoch), K = 2. */
function tinyJatp(c: DefenseConfig): DefenseConfig {
  return {
    ...c,
    purifier: { arch: c.purifier.arch, options: { nf: 4, gc: 2, nb: 1 } },
    perClass: 4,
    batchSize: 6,
    epochs: 2,
    jatp: { ...c.jatp!, attackSteps: 2 },
    evaluation: { count: 0, pgdSteps: 1, pgdStepSize: 0.03 },
  };
}

async function weightsOf(file: string): Promise<Map<string, Float32Array>> {
  const net = await loadNetwork(file);
  const out = new Map([...net.namedWeights()].map(([k, v]) => [k, Float32Array.from(v.dataSync() as Float32Array)]));
  net.dispose();
  return out;
}

test('jatp train-defense (CLI action): 2 epochs through runTraining, per-epoch full-model eval, loadable pre-processor', async () => {
  const out = path.join(root, 'jatp-cli');
  const result = await runTrainDefense({
    method: 'jatp', target: targetDir, dataset: data8, out, preset: 'cpu', seed: '3',
    epochs: '2', perClass: '4', batchSize: '6', attackSteps: '1', evalCount: '3', evalSteps: '2', purifierOptions: '{"nf":4,"gc":2}',
  });
  assert.deepEqual(result.config.defense.purifier.options, { nf: 4, gc: 2, nb: 1 }, 'flag merged into the cpu preset');
  assert.equal(result.summary.epochsCompleted, 2);
  assert.equal(result.summary.globalStep, 4);
  assert.equal(result.config.defense.jatp!.eps, 8 / 255, 'paper eps on non-MNIST data');
  const evalMetrics = result.summary.lastEpoch!.eval;
  for (const k of ['cleanAcc', 'pgdAcc']) assert.ok(evalMetrics[k]! >= 0 && evalMetrics[k]! <= 100, `${k} = ${evalMetrics[k]}`);
  assert.ok(evalMetrics['pgdAcc']! <= evalMetrics['cleanAcc']! + 1e-9 || evalMetrics['cleanAcc'] === 0);
  const lines = fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string });
  assert.equal(lines.filter((l) => l.type === 'epoch').length, 2);
  const p = await loadPreprocessor(out);
  assert.equal(p.arch, 'jatp-purifier');
  const y = tf.tidy(() => p.apply(tf.zeros([1, 8, 8, 3]), false));
  assert.deepEqual(y.shape, [1, 8, 8, 3]);
  y.dispose();
  p.dispose();
  await assert.rejects(loadPreprocessor(targetDir), /not a pre-processor/);
  await assert.rejects(
    runTrainDefense({ method: 'jatp', target: targetDir, dataset: data8, out: path.join(root, 'x'), preset: 'cpu', seed: '0', examples: 'obl' }),
    /--examples/,
  );
  await assert.rejects(
    runTrainDefense({ method: 'jatp', target: targetDir, dataset: data8, out: path.join(root, 'x'), preset: 'cpu', seed: '0', purifierOptions: '[1]' }),
    /--purifier-options: expected a JSON object/,
  );
  await assert.rejects(
    runTrainDefense({ method: 'magic', target: targetDir, dataset: data8, out: path.join(root, 'x'), preset: 'cpu', seed: '0' }),
    /--method: 'magic' is not one of/,
  );
});

test('jatp stopped after 3 steps and resumed ends bitwise equal to an uninterrupted run', async () => {
  const common = { method: 'jatp' as const, preset: 'cpu' as const, target: targetDir, dataset: data8, seed: 4, config: tinyJatp(defenseDefaults('jatp', 'cpu')), progress: silentProgress, handleSigint: false };
  const full = await trainDefense({ ...common, out: path.join(root, 'jatp-full') });
  assert.equal(full.summary.globalStep, 4);
  const outB = path.join(root, 'jatp-stopped');
  const stopped = await trainDefense({ ...common, out: outB, stopAfterSteps: 3, checkpointEverySteps: 1 });
  assert.equal(stopped.summary.interrupted, true);
  const resumed = await trainDefense({ ...common, out: outB, resume: true, config: defenseDefaults('jatp', 'cpu') });
  assert.ok(resumed.summary.resumedFrom !== undefined, 'resumed from a checkpoint');
  assert.equal(resumed.summary.globalStep, 4);
  const a = await weightsOf(full.weights);
  const b = await weightsOf(resumed.weights);
  assert.deepEqual([...a.keys()], [...b.keys()]);
  for (const [k, v] of a) assert.ok(Buffer.from(v.buffer).equals(Buffer.from(b.get(k)!.buffer)), `weight ${k} differs after resume`);
});

test('plateau rule: the run ends at the last phase plateau with the factor applied per phase, and a resumed run stays done', async () => {
  // An improvement threshold no loss can meet: each phase is 1 improving epoch + `patience` = 1 more,
  // so phases end at epochs 2 and 4 of at most 10 (2 steps per epoch).
  const plateau = (c: DefenseConfig): DefenseConfig => ({ ...tinyJatp(c), epochs: 10, lrMilestones: [], plateau: { objective: 'loss', patience: 1, minRelativeImprovement: 10, lrFactors: [0.1], maxEpochs: 10 } });
  const common = { method: 'jatp' as const, preset: 'cpu' as const, target: targetDir, dataset: data8, seed: 5, config: plateau(defenseDefaults('jatp', 'cpu')), progress: silentProgress, handleSigint: false };
  const out = path.join(root, 'jatp-plateau');
  const r = await trainDefense({ ...common, out });
  assert.equal(r.summary.converged, true);
  assert.equal(r.summary.interrupted, false);
  assert.equal(r.summary.epochsCompleted, 4);
  assert.equal(r.summary.globalStep, 8);
  const lrs = fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; lr?: { main: number } }).filter((l) => l.type === 'epoch').map((l) => l.lr!.main);
  const base = r.config.defense.optimizers['main']!.lr;
  assert.deepEqual(lrs.map((v) => Math.round((v / base) * 1e6) / 1e6), [1, 1, 0.1, 0.1]);
  const again = await trainDefense({ ...common, out, resume: true });
  assert.equal(again.summary.globalStep, 8);
  assert.equal(again.summary.converged, true);
});

test('hgd on cached oblivious PGD examples with crop-flip augmentation of the paired batches; the cache is reused', async () => {
  const tiny = (c: DefenseConfig): DefenseConfig => ({
    ...c,
    purifier: { arch: 'hgd', options: { widthScale: 0.0625 } },
    perClass: 4,
    batchSize: 6,
    epochs: 1,
    augment: 'crop-flip',
    baseline: { ...c.baseline!, attackSteps: 2 },
    evaluation: { count: 0, pgdSteps: 1, pgdStepSize: 0.03 },
  });
  const common = { method: 'hgd' as const, preset: 'cpu' as const, target: target16Dir, dataset: data16, seed: 5, config: tiny(defenseDefaults('hgd', 'cpu')), progress: silentProgress, handleSigint: false, cacheDir: path.join(root, 'cache') };
  const first = await trainDefense({ ...common, out: path.join(root, 'hgd-1') });
  assert.equal(first.exampleCache?.fromCache, false);
  assert.equal(first.summary.globalStep, 2);
  assert.ok(Number.isFinite(first.summary.lastEpoch!.train['loss']));
  const second = await trainDefense({ ...common, out: path.join(root, 'hgd-2') });
  assert.equal(second.exampleCache?.fromCache, true);
  assert.equal(second.exampleCache?.file, first.exampleCache?.file);
  const p = await loadPreprocessor(path.join(root, 'hgd-1'));
  assert.equal(p.arch, 'hgd');
  p.dispose();
});

test('train-defense --resume <dir> alone continues a stopped run with its stored method, target and settings', async () => {
  const out = path.join(root, 'jatp-cli-resume');
  const flags = {
    dataset: data8, preset: 'cpu', seed: '3', epochs: '2', perClass: '4', batchSize: '6', attackSteps: '1',
    evalCount: '0', purifierOptions: '{"nf":4,"gc":2}',
  };
  const stopped = await runTrainDefense({ ...flags, method: 'jatp', target: targetDir, out, stopAfterSteps: '1' });
  assert.equal(stopped.summary.interrupted, true);
  const resumed = await runTrainDefense({ resume: out, seed: '0', preset: 'paper', dataset: 'cifar10' });
  assert.ok(resumed.summary.resumedFrom !== undefined, 'resumed from a checkpoint');
  assert.equal(resumed.config.defense.method, 'jatp');
  assert.equal(resumed.config.defense.preset, 'cpu', 'stored preset wins over the flag default');
  assert.equal(resumed.summary.globalStep, 4);
  await assert.rejects(runTrainDefense({ seed: '0', preset: 'cpu', dataset: data8, resume: path.join(root, 'nope') }), /--resume: .*config\.json does not exist/);
  await assert.rejects(runTrainDefense({ seed: '0', preset: 'cpu', dataset: data8, target: targetDir, out }), /--method is required/);
});

test('Ctrl-C on train-defense exits 130 and prints no weights path before one exists; --dataset comes from the target run', async () => {
  // A train-target run folder: its config.json names the dataset the target was trained on.
  const targetRun = path.join(root, 'target-run');
  fs.cpSync(targetDir, targetRun, { recursive: true });
  fs.writeFileSync(path.join(targetRun, 'config.json'), JSON.stringify({ recipe: 'trades', loop: {}, config: { dataset: data8 } }));
  const out = path.join(root, 'jatp-cli-sigint');
  const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
  // No --dataset; 4 steps per epoch, so a Ctrl-C after step 1 stops inside the first epoch.
  const p = spawn(process.execPath, ['--import', 'tsx', main, 'train-defense', '--method', 'jatp', '--target', targetRun, '--out', out, '--preset', 'cpu',
    '--epochs', '1', '--per-class', '4', '--batch-size', '3', '--attack-steps', '1', '--eval-count', '0', '--purifier-options', '{"nf":4,"gc":2}'],
  { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, JATP_BACKEND: 'cpu' } });
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  p.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (/step 1\/4/.test(stderr) && p.exitCode === null && !p.killed) p.kill('SIGINT');
  });
  const code = await new Promise<number | null>((resolve) => p.on('exit', (c) => resolve(c)));
  assert.equal(code, 130, `exit code; stdout: ${stdout} stderr: ${stderr}`);
  assert.match(stdout, /interrupted: continue with --resume/);
  assert.match(stdout, /weights: {2}none yet/);
  assert.ok(!fs.existsSync(path.join(out, 'last')), 'no last/ inside the first epoch');
  assert.ok(stdout.includes(`dataset:  ${data8}`), `the target run's dataset, not cifar10: ${stdout}`);
});
