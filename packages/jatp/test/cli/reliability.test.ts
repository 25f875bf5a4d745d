/**
 * What a full disk, more processes than batches, signals, mismatched models and flags, unwritable
 * folders and damaged files do to the commands: each fails clearly (naming the flag or file) and
 * loses nothing, or does the right thing. The cpu backend throughout; the CLI is spawned where exit
 * codes, signals or child processes are what is tested, and called in-process otherwise.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { parseEvalFlags, runEval, runMerge, statePathFor, type EvalFlags } from '../../src/cli/eval.js';
import { runReport } from '../../src/cli/report.js';
import { runTrainTarget } from '../../src/cli/train-target.js';
import { runTrainDefense } from '../../src/cli/train-defense.js';
import { modelsExportPytorch, modelsExportTfjs } from '../../src/cli/models.js';
import { readState } from '../../src/evaluation/eval-state.js';
import { ensureGradients } from '../../src/gradients.js';
import { hashFloat } from '../training/tiny.js';
import { SIDE, withoutTimes, writeEvalFixture, type EvalFixture } from '../experiments/eval-fixture.js';

process.env.JATP_BACKEND = 'cpu';
await tf.setBackend('cpu');
ensureGradients();

const MAIN = path.resolve(import.meta.dirname, '../../src/cli/main.ts');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jatp-reliability-'));
const mounts: string[] = [];
after(() => {
  for (const m of mounts) spawnSync('umount', [m]);
  fs.rmSync(dir, { recursive: true, force: true });
});
let fixture: EvalFixture | undefined;
async function getFixture(): Promise<EvalFixture> {
  fixture ??= await writeEvalFixture(path.join(dir, 'fixture'), 20);
  return fixture;
}

function flags(f: EvalFixture, extra: Partial<EvalFlags> = {}): EvalFlags {
  return { model: f.model, dataDir: f.dataDir, dataset: 'fashion-mnist', pixelRange: '0-1', n: '12', attacks: 'pgd2', eps: '0.05', norm: 'Linf', batchSize: '6', seed: '0', repeat: '1', ...extra };
}

/** Captures stderr (stdout is the test runner's) while `fn` runs. */
async function stderrOf(fn: () => Promise<unknown>): Promise<string> {
  const write = process.stderr.write.bind(process.stderr);
  let text = '';
  process.stderr.write = ((chunk: string | Uint8Array) => ((text += String(chunk)), true)) as typeof process.stderr.write;
  try {
    await fn();
  } finally {
    process.stderr.write = write;
  }
  return text;
}

interface Run {
  code: number | null;
  stderr: string;
}

function startJatp(args: string[], env: Record<string, string> = {}): { child: ChildProcess; done: Promise<Run> } {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { env: { ...process.env, JATP_BACKEND: 'cpu', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<Run>((resolve) => child.on('exit', (code) => resolve({ code, stderr })));
  return { child, done };
}

/** Mounts a tmpfs at `at` (root only); false when this machine does not allow it. */
function mountTmpfs(at: string, options: string): boolean {
  fs.mkdirSync(at, { recursive: true });
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', at]);
  if (r.status === 0) mounts.push(at);
  return r.status === 0;
}

/** Child processes of `parent` whose command line mentions `script` (tsx's esbuild helper does not). */
function pidsWithParent(parent: number, script: string): number[] {
  return fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).flatMap((d) => {
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      return ppid === parent && fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(script) ? [Number(d)] : [];
    } catch {
      return [];
    }
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** `exit` within `ms`, or kills `pids` (so nothing is left behind) and fails naming `what`. */
async function exitsWithin<T>(exit: Promise<T>, ms: number, what: string, pids: number[]): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
      reject(new Error(`${what} did not exit within ${ms / 1000} s of SIGINT`));
    }, ms);
  });
  try {
    return await Promise.race([exit, late]);
  } finally {
    clearTimeout(timer);
  }
}

async function waitFor(what: string, ok: () => boolean, ms = 120_000): Promise<void> {
  const until = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('full disk: eval --json fails naming the file, keeps the last good state, leaves no temp file; the rerun resumes to the same result', async () => {
  const f = await getFixture();
  const args = (json: string) => ['eval', '--model', f.model, '--data-dir', f.dataDir, '--n', '20', '--batch-size', '1', '--attacks', 'pgd2,dlr2', '--eps', '0.05', '--json', json];
  const reference = path.join(dir, 'reference.json');
  assert.equal((await startJatp(args(reference)).done).code, 0);
  const stateSize = fs.statSync(statePathFor(reference)).size;
  assert.ok(stateSize > 4096, `the state (${stateSize} bytes) must outgrow a page for the disk to fill mid-run`);

  const disk = path.join(dir, 'disk');
  const real = mountTmpfs(disk, 'size=64k');
  const out = path.join(disk, 'o.json');
  let env: Record<string, string> = {};
  const filler = path.join(disk, 'filler');
  if (real) {
    // Leave three pages: one for the run's lock, and the state fits until it outgrows one page
    // beside its previous copy; then write(2) stores only what fits (a short write, not ENOSPC).
    const s = fs.statfsSync(disk);
    fs.writeFileSync(filler, Buffer.alloc(s.bavail * s.bsize - 3 * 4096));
  } else {
    fs.mkdirSync(disk, { recursive: true });
    env = { JATP_TEST_SHORT_WRITE: '12' }; // the 12th atomic write reaches the disk half written
  }
  const full = await startJatp(args(out), env).done;
  assert.notEqual(full.code, 0, `a short write must fail the command: ${full.stderr}`);
  assert.match(full.stderr, /o\.json(\.state\.json)?: short write|ENOSPC|no space/i);
  assert.ok(full.stderr.includes(out), `the message names the file: ${full.stderr}`);
  assert.deepEqual(fs.readdirSync(disk).filter((n) => n.includes('.tmp')), [], 'no temp file left behind');
  const kept = readState(statePathFor(out)); // the previous good state, whole
  assert.ok(Object.keys(kept.clean).length > 0);
  assert.ok(!fs.existsSync(out), 'no report from an unfinished run');

  if (real) fs.rmSync(filler);
  const rerun = await startJatp(args(out)).done;
  assert.equal(rerun.code, 0, rerun.stderr);
  assert.match(rerun.stderr, /resuming from/);
  assert.equal(withoutTimes(fs.readFileSync(out, 'utf8')), withoutTimes(fs.readFileSync(reference, 'utf8')));
});

test('a shard that gets no batch: a clear message (no NaN%), an empty state that merge accepts; --nproc is capped at the batch count', async () => {
  const f = await getFixture();
  const whole = path.join(dir, 'one-batch.json');
  await runEval(flags(f, { n: '6', json: whole }));
  const shards = [1, 2].map((i) => path.join(dir, `one-batch.shard-${i}.json`));
  // One batch, two shards: the batch goes to shard 2/2 (contiguous blocks, floor(i·batches/n)), 1/2 gets none.
  let result: unknown = 'not run';
  const said = await stderrOf(async () => (result = await runEval(flags(f, { n: '6', shard: '1/2', json: shards[0]! }))));
  assert.equal(result, undefined);
  assert.match(said, /shard 1\/2 holds no batch \(6 images make 1 batch\(es\) of 6\)/);
  assert.doesNotMatch(said, /NaN/);
  assert.ok(fs.existsSync(statePathFor(shards[0]!)), 'the empty shard keeps its state for merge');
  await runEval(flags(f, { n: '6', shard: '2/2', json: shards[1]! }));
  const merged = path.join(dir, 'one-batch.merged.json');
  runMerge(shards, { json: merged });
  assert.equal(withoutTimes(fs.readFileSync(merged, 'utf8')), withoutTimes(fs.readFileSync(whole, 'utf8')));

  const capped = await stderrOf(async () => assert.equal(parseEvalFlags(flags(f, { n: '6', nproc: '2' })).nproc, 1));
  assert.match(capped, /--nproc 2 is more than the 1 batch\(es\)/);
});

test('eval --nproc 2 without --json leaves no temporary folder', async () => {
  const f = await getFixture();
  const tmp = fs.mkdtempSync(path.join(dir, 'tmpdir-'));
  const run = await startJatp(['eval', '--model', f.model, '--data-dir', f.dataDir, '--n', '12', '--batch-size', '6', '--attacks', 'pgd1', '--eps', '0.05', '--nproc', '2'], { TMPDIR: tmp }).done;
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(fs.readdirSync(tmp).filter((n) => n.startsWith('jatp-')), []);
});

test('SIGINT on the eval --nproc launcher reaches the shards; it waits for them (no orphans), exits 130 and says how to resume', async () => {
  const f = await getFixture();
  const out = path.join(dir, 'sigint.json');
  const { child, done } = startJatp(['eval', '--model', f.model, '--data-dir', f.dataDir, '--n', '20', '--batch-size', '1', '--attacks', 'pgd200,dlr200', '--eps', '0.05', '--nproc', '2', '--json', out]);
  const states = [1, 2].map((i) => statePathFor(`${out}.shard-${i}-of-2.json`));
  await waitFor('both shards to record a batch', () => states.every((s) => fs.existsSync(s)));
  const workers = pidsWithParent(child.pid!, MAIN);
  assert.equal(workers.length, 2, 'two shard processes');
  child.kill('SIGINT');
  const run = await exitsWithin(done, 90_000, 'the eval --nproc launcher', [child.pid!, ...workers]);
  assert.equal(run.code, 130, run.stderr);
  assert.match(run.stderr, /SIGINT.*run the same command again to resume/);
  assert.deepEqual(workers.filter(alive), [], 'no shard outlives the launcher');
  for (const s of states) readState(s);
});

test('SIGINT on the train-target --nproc launcher is passed on to every worker once, and the launcher waits for them', async () => {
  // The launcher re-runs its own script as the workers: this script, which as a worker records the
  // signals it gets and exits as the training loop does after a checkpoint (130).
  const script = path.join(dir, 'launcher.mts');
  const log = path.join(dir, 'launcher-log');
  fs.mkdirSync(log);
  const distributed = path.resolve(import.meta.dirname, '../../src/cli/data-parallel-flags.ts');
  fs.writeFileSync(script, `
import * as fs from 'node:fs';
import { launchLocalWorkers } from ${JSON.stringify(distributed)};
if (process.env.RANK !== undefined) {
  const file = ${JSON.stringify(log)} + '/' + process.env.RANK;
  fs.writeFileSync(file, 'started\\n');
  process.on('SIGINT', () => { fs.appendFileSync(file, 'SIGINT\\n'); setTimeout(() => process.exit(130), 200); });
  setInterval(() => {}, 1000);
} else {
  await launchLocalWorkers({ nproc: '2' });
}
`);
  const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await waitFor('both workers', () => ['0', '1'].every((r) => fs.existsSync(path.join(log, r))));
  const workers = pidsWithParent(child.pid!, script);
  assert.equal(workers.length, 2);
  child.kill('SIGINT');
  assert.equal(await exitsWithin(exited, 60_000, 'the train --nproc launcher', [child.pid!, ...workers]), 130, stderr);
  assert.deepEqual(workers.filter(alive), [], 'no worker outlives the launcher');
  for (const r of ['0', '1']) assert.equal(fs.readFileSync(path.join(log, r), 'utf8'), 'started\nSIGINT\n', `rank ${r} got SIGINT once`);
});

test('a model whose class count differs from the dataset\'s is refused, naming both', async () => {
  const f = await getFixture();
  await tf.setBackend('cpu');
  const net = tfl.sequential({ layers: [tfl.layers.flatten({ inputShape: [SIDE, SIDE, 1] }), tfl.layers.dense({ units: 3 })] });
  net.layers[1]!.setWeights([tf.tensor2d(Float32Array.from({ length: SIDE * SIDE * 3 }, (_, i) => hashFloat(i, 3)), [SIDE * SIDE, 3]), tf.zeros([3])]);
  const modelDir = path.join(dir, 'three-class');
  fs.mkdirSync(modelDir);
  await net.save(
    tf.io.withSaveHandler(async (a) => {
      fs.writeFileSync(path.join(modelDir, 'weights.bin'), Buffer.from(a.weightData as ArrayBuffer));
      fs.writeFileSync(path.join(modelDir, 'model.json'), JSON.stringify({ modelTopology: a.modelTopology, format: 'layers-model', weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }] }));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  net.dispose();
  await assert.rejects(runEval(flags(f, { model: path.join(modelDir, 'model.json') })), /--model: .*three-class.* has 3 outputs, but fashion-mnist has 10 classes/);
});

test('--norm L2: budgets above 1 accepted up to sqrt(H·W·C); an L2 default without --eps; FWA refused; --eps 8 suggests 8/255', async () => {
  const f = await getFixture();
  assert.equal(parseEvalFlags(flags(f, { norm: 'L2', eps: '2' })).eps, 2);
  assert.throws(() => parseEvalFlags(flags(f, { norm: 'L2', eps: '29' })), /--eps: '29' is not a number in \[0, 28\]/);
  assert.equal(parseEvalFlags(flags(f, { norm: 'L2', eps: undefined })).eps, 1.5);
  assert.equal(parseEvalFlags(flags(f, { norm: 'L2', eps: undefined, dataset: 'cifar10' })).eps, 0.5);
  assert.equal(parseEvalFlags(flags(f, { norm: 'Linf', eps: undefined })).eps, 0.1);
  assert.throws(() => parseEvalFlags(flags(f, { norm: 'L2', attacks: 'pgd2,fwa5' })), /--norm L2: attack 'fwa5' has its own Wasserstein budget/);
  assert.throws(() => parseEvalFlags(flags(f, { eps: '8' })), /did you mean 8\/255/);
});

test('jatp report refuses evaluations of different eps / n, naming both files and the field', async () => {
  const f = await getFixture();
  const a = path.join(dir, 'rep-a.json');
  const b = path.join(dir, 'rep-b.json');
  const c = path.join(dir, 'rep-c.json');
  await runEval(flags(f, { json: a }));
  await runEval(flags(f, { json: b, eps: '0.03' }));
  await runEval(flags(f, { json: c, n: '6' }));
  await assert.rejects(runReport([`A=${a}`, `B=${b}`], { title: 't' }), (e: Error) => e.message.includes(b) && e.message.includes(a) && /has eps 0\.03/.test(e.message));
  await assert.rejects(runReport([`A=${a}`, `C=${c}`], { title: 't' }), /rep-c\.json' \(C\) has n 6/);
});

test('eval --resume with a flag that changes the evaluation is refused, naming the flag', async () => {
  const f = await getFixture();
  const json = path.join(dir, 'resume.json');
  await runEval(flags(f, { json }));
  const state = statePathFor(json);
  const base = { dataset: 'fashion-mnist', pixelRange: '0-1', n: '1000', attacks: 'pgd40', norm: 'Linf', batchSize: '100', seed: '0', repeat: '1', resume: state } as EvalFlags;
  await assert.rejects(runEval({ ...base, model: path.join(dir, 'other.json') }, new Set(['resume', 'model'])), /--resume: .* was run with --model .*, not --model .*other\.json; drop --model/);
  await assert.rejects(runEval({ ...base, n: '7' }, new Set(['resume', 'n'])), /was run with --n 12, not --n 7/);
  // Commander defaults (not typed) do not count; the recorded command resumes.
  const report = (await runEval(base, new Set(['resume']))) as { n: number };
  assert.equal(report.n, 12);
});

test('unwritable output folders are named before any work (read-only file system, or a path under a file)', async () => {
  const f = await getFixture();
  const ro = path.join(dir, 'ro');
  const readOnly = mountTmpfs(ro, 'ro,size=4k');
  const file = path.join(dir, 'a-file');
  fs.writeFileSync(file, 'x');
  const places = [path.join(file, 'sub'), ...(readOnly ? [path.join(ro, 'sub')] : [])];
  for (const bad of places) {
    const why = /is a file, not a folder|read-only file system|not writable/;
    await assert.rejects(runTrainTarget({ preset: 'cpu', recipe: 'natural', dataset: 'fashion-mnist', out: bad }), (e: Error) => e.message.startsWith('--out:') && e.message.includes(bad) && why.test(e.message));
    await assert.rejects(runTrainDefense({ method: 'jatp', target: f.model, out: bad, preset: 'cpu', seed: '0' }), (e: Error) => e.message.startsWith('--out:') && why.test(e.message));
    await assert.rejects(modelsExportTfjs({ model: f.model, out: bad, clamp: false }), (e: Error) => e.message.startsWith('--out:') && why.test(e.message));
    await assert.rejects(modelsExportPytorch({ model: f.model, out: path.join(bad, 'x.safetensors') }), (e: Error) => e.message.startsWith('--out:') && why.test(e.message));
    await assert.rejects(runEval(flags(f, { saveExamples: bad })), (e: Error) => e.message.startsWith('--save-examples:') && why.test(e.message));
    const json = path.join(dir, 'rep-a.json');
    await assert.rejects(runReport([`A=${json}`], { title: 't', out: bad }), (e: Error) => e.message.startsWith('--out:') && why.test(e.message));
  }
});

test('train-defense --target /no/such/run names the target', async () => {
  await assert.rejects(runTrainDefense({ method: 'jatp', target: '/no/such/run', out: path.join(dir, 'def'), preset: 'cpu', seed: '0' }), /--target: '\/no\/such\/run' does not exist/);
});

test('rough edges: duplicate --attacks, bpda without a pre-processor, --weights beside --model, a run without last/', async () => {
  const f = await getFixture();
  assert.throws(() => parseEvalFlags(flags(f, { attacks: 'pgd2,pgd2' })), /--attacks: 'pgd2' is listed twice/);
  assert.throws(() => parseEvalFlags(flags(f, { attacks: 'bpda5' })), /--attacks: 'bpda5': BPDA replaces a pre-processor's backward pass/);
  assert.throws(() => parseEvalFlags(flags(f, { bpda: true })), /--bpda: BPDA replaces/);
  assert.throws(() => parseEvalFlags(flags(f, { weights: path.join(dir, 'w.safetensors') })), /--weights: .* and --model .* both name a model/);
  const run = path.join(dir, 'run-without-last');
  fs.mkdirSync(path.join(run, 'best'), { recursive: true });
  fs.writeFileSync(path.join(run, 'config.json'), '{}');
  fs.writeFileSync(path.join(run, 'best', 'model.safetensors'), '');
  const { resolveRunWeights, folderViewOf } = await import('../../src/models/weights-core.js');
  assert.throws(() => resolveRunWeights(run, '--model', folderViewOf(fs, path)), /--model: run folder .* has no last\/ network \(deleted\?\), only best\/; pass '.*best'/);
});

test('rough edges: our tfjs export records its pixel range and eval refuses another; a softmax output is warned about', async () => {
  await tf.setBackend('cpu');
  const { buildNetwork } = await import('../../src/models/architectures.js');
  const { exportTfjsModel } = await import('../../src/models/tfjs-export.js');
  const { loadTfjsClassifier } = await import('../../src/evaluation/load-pipeline.js');
  const net = buildNetwork('small-cnn', { inChannels: 1, inputSize: 8, width: 2 });
  const exported = path.join(dir, 'export');
  const { modelJson } = await exportTfjsModel(net, exported);
  net.dispose();
  assert.equal((JSON.parse(fs.readFileSync(modelJson, 'utf8')) as { userDefinedMetadata: { pixelRange: string } }).userDefinedMetadata.pixelRange, '0-1');
  await assert.rejects(loadTfjsClassifier(modelJson, '0-255'), /--pixel-range: .* records that it takes pixels in 0-1 \(a jatp export\), not 0-255/);
  await loadTfjsClassifier(modelJson, '0-1');

  const soft = tfl.sequential({ layers: [tfl.layers.flatten({ inputShape: [SIDE, SIDE, 1] }), tfl.layers.dense({ units: 10, activation: 'softmax' })] });
  const softDir = path.join(dir, 'softmax');
  fs.mkdirSync(softDir);
  await soft.save(
    tf.io.withSaveHandler(async (a) => {
      fs.writeFileSync(path.join(softDir, 'weights.bin'), Buffer.from(a.weightData as ArrayBuffer));
      fs.writeFileSync(path.join(softDir, 'model.json'), JSON.stringify({ modelTopology: a.modelTopology, format: 'layers-model', weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }] }));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  soft.dispose();
  const said = await stderrOf(() => loadTfjsClassifier(path.join(softDir, 'model.json'), '0-1'));
  assert.match(said, /warning: --model .*softmax.*: the last layer applies softmax; attacks need logits/);
});

test('rough edge: --from-examples refuses a typed --attacks / --eps that the saved examples do not have', async () => {
  const f = await getFixture();
  const examples = path.join(dir, 'examples');
  await runEval(flags(f, { saveExamples: examples }));
  await assert.rejects(runEval(flags(f, { fromExamples: examples, attacks: 'dlr2', eps: '0.03' }), new Set(['fromExamples', 'attacks', 'eps'])), /--from-examples: the saved examples were made with --attacks pgd2, --eps 0\.05 .*; drop --attacks, --eps/);
  await runEval(flags(f, { fromExamples: examples }), new Set(['fromExamples', 'attacks'])); // the same value: fine
});

const DEBIAN_FASHION = '/usr/share/datasets/fashion-mnist';
test('rough edge: --mirror takes Debian\'s recompressed Fashion-MNIST files (other md5, the published decompressed sha256)', { skip: fs.existsSync(DEBIAN_FASHION) ? false : `${DEBIAN_FASHION} absent (Debian package dataset-fashion-mnist)` }, async () => {
  const { downloadDataset } = await import('../../src/data/download.js');
  const into = path.join(dir, 'mirror');
  const r = await downloadDataset('fashion-mnist', { mirror: DEBIAN_FASHION, dataDir: into });
  assert.equal(r.files.length, 4);
  for (const f of r.files) assert.deepEqual(fs.readFileSync(f.file), fs.readFileSync(path.join(DEBIAN_FASHION, path.basename(f.file))));
});

test('rough edge: train-target --nproc 3 with batches of 2 is refused before any worker starts', async () => {
  const run = await startJatp(['train-target', '--preset', 'cpu', '--recipe', 'natural', '--batch-size', '2', '--nproc', '3', '--out', path.join(dir, 'np3')]).done;
  assert.equal(run.code, 1);
  assert.match(run.stderr, /--nproc 3: a batch of 2 examples cannot give each of 3 ranks one; use --batch-size 3 or more/);
  assert.doesNotMatch(run.stderr, /rank \d|c10d|dropLast/i);
});

test('rough edge: a second eval on a --json whose evaluation is running is refused; a stale lock is taken over', async () => {
  const f = await getFixture();
  const json = path.join(dir, 'locked.json');
  const holder = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    fs.writeFileSync(`${statePathFor(json)}.lock`, `${holder.pid}\n`);
    await assert.rejects(runEval(flags(f, { json })), /--json: '.*locked\.json\.state\.json' is in use by another evaluation \(process \d+/);
  } finally {
    holder.kill('SIGKILL');
    await new Promise((resolve) => holder.once('exit', resolve));
  }
  await runEval(flags(f, { json })); // its process is gone: the lock is stale
  assert.ok(!fs.existsSync(`${statePathFor(json)}.lock`), 'released');
});

test('rough edge: a model trained on another dataset is named by its sidecar\'s dataset', async () => {
  const f = await getFixture();
  await tf.setBackend('cpu');
  const { buildNetwork } = await import('../../src/models/architectures.js');
  const { saveNetwork } = await import('../../src/models/weights.js');
  const net = buildNetwork('small-cnn', { inChannels: 3, inputSize: 8, width: 2 });
  const file = path.join(dir, 'colour', 'model.safetensors');
  await saveNetwork(net, file, { dataset: 'cifar10' });
  net.dispose();
  await assert.rejects(runEval(flags(f, { model: file })), /--model: .* was trained on cifar10 and cannot take fashion-mnist images .*; evaluate it with --dataset cifar10/);
  await assert.rejects(runEval(flags(f, { model: file, pixelRange: '0-255' })), /--pixel-range 0-255: applies to foreign tfjs models; .* is a jatp network/);
});
