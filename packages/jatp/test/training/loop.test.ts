/**
 * The shared training loop: exact resume (in-process stop + resume, and fallback past a damaged
 * checkpoint), run-folder contents, schedule, refusal to clobber a run, and no tensor growth.
 * The cross-process SIGKILL/SIGINT cases are in kill-resume.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { checkRunFolder, listCheckpoints, readRunConfig } from '../../src/training/loop.js';
import { readCheckpointFile } from '../../src/io/checkpoint-file.js';
import { tinyRun } from './fixtures/tiny-run.js';

await tf.setBackend('cpu');

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'jatp-loop-'));
process.on('exit', () => fs.rmSync(root, { recursive: true, force: true }));

/** Every tensor of last/state.safetensors, as raw bytes, for bitwise comparison. */
function finalWeights(dir: string): Map<string, Buffer> {
  const { tensors } = readCheckpointFile(path.join(dir, 'last', 'state.safetensors'));
  return new Map([...tensors].map(([k, t]) => [k, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)]));
}

function assertBitwiseEqual(a: Map<string, Buffer>, b: Map<string, Buffer>): void {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  assert.ok(a.size > 10, 'small-cnn has conv, BN (incl. running stats) and linear tensors');
  for (const [k, v] of a) assert.ok(v.equals(b.get(k)!), `tensor '${k}' differs`);
}

let reference: Map<string, Buffer> | undefined;
async function referenceWeights(): Promise<Map<string, Buffer>> {
  if (!reference) {
    const dir = path.join(root, 'uninterrupted');
    const before = tf.memory().numTensors;
    const s = await tinyRun(dir);
    assert.equal(tf.memory().numTensors, before, 'a whole run leaves no tensors behind');
    assert.equal(s.interrupted, false);
    assert.equal(s.epochsCompleted, 3);
    assert.equal(s.globalStep, 12);
    reference = finalWeights(dir);
  }
  return reference;
}

test('uninterrupted run: run folder holds config, metrics per step and epoch, 2 checkpoints, last weights', async () => {
  await referenceWeights();
  const dir = path.join(root, 'uninterrupted');
  const cfg = readRunConfig(dir);
  assert.equal(cfg.recipe, 'trades');
  assert.deepEqual(cfg.config, { fixture: 'tiny-run' });
  assert.equal(cfg.loop.batchSize, 4);
  const lines = fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const epochs = lines.filter((l) => l['type'] === 'epoch');
  assert.deepEqual(epochs.map((e) => e['epoch']), [1, 2, 3]);
  // piecewiseSchedule([[3, 0.1]]): lr 0.05 in epochs 1-2, 0.005 in epoch 3
  assert.deepEqual(epochs.map((e) => (e['lr'] as Record<string, number>)['main']), [0.05, 0.05, 0.05 * 0.1]);
  const steps = lines.filter((l) => l['type'] === 'step');
  assert.equal(steps.length, 12);
  for (const s of steps) assert.ok(Number.isFinite(s['loss']) && Number.isFinite(s['lossRobust']));
  assert.equal(listCheckpoints(dir).length, 2, 'the newest two checkpoints are kept');
  assert.ok(fs.existsSync(path.join(dir, 'last', 'state.safetensors')));
});

test('a run stopped mid-epoch and resumed ends with bitwise the same weights', async () => {
  const ref = await referenceWeights();
  const dir = path.join(root, 'stop-resume');
  const first = await tinyRun(dir, { stopAfterSteps: 5 }); // epoch 2, step 1 of 4
  assert.equal(first.interrupted, true);
  assert.equal(first.globalStep, 5);
  const second = await tinyRun(dir, { resume: true });
  assert.equal(second.interrupted, false);
  assert.match(second.resumedFrom ?? '', /step-000000005/);
  assertBitwiseEqual(finalWeights(dir), ref);
  const lines = fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(lines.filter((l) => l['type'] === 'step').length, 12, 'each step logged once across the two sessions');
});

test('a damaged newest checkpoint is reported, the previous one is used, and the result is still exact', async () => {
  const ref = await referenceWeights();
  const dir = path.join(root, 'damaged');
  await tinyRun(dir, { stopAfterSteps: 7 }); // checkpoints at steps 6 and 7 remain
  const [newest, previous] = listCheckpoints(dir);
  assert.match(newest!, /step-000000007/);
  assert.match(previous!, /step-000000006/);
  const bytes = fs.readFileSync(newest!);
  bytes[bytes.length - 5] ^= 0xff;
  fs.writeFileSync(newest!, bytes);
  const messages: string[] = [];
  const s = await tinyRun(dir, {
    resume: true,
    progress: { step() {}, epochEnd() {}, message: (m) => messages.push(m) },
  });
  assert.equal(s.skippedCheckpoints.length, 1);
  assert.match(s.skippedCheckpoints[0]!.reason, /checksum mismatch/);
  assert.ok(messages.some((m) => m.includes('step-000000007') && m.includes('previous')), messages.join('\n'));
  assert.match(s.resumedFrom ?? '', /step-000000006/);
  assertBitwiseEqual(finalWeights(dir), ref);
});

test('refuses to start over an existing run without resume, naming the folder', async () => {
  await referenceWeights();
  const dir = path.join(root, 'uninterrupted');
  await assert.rejects(tinyRun(dir), (err: Error) => err.message.includes(dir) && err.message.includes('--resume'));
});

test('rejects optimizers that do not match the recipe variable groups', async () => {
  await assert.rejects(
    tinyRun(path.join(root, 'bad-groups'), { optimizers: { generator: { kind: 'adam', lr: 1e-3 } } }),
    /variable groups \[main\]/,
  );
});

type MetricsRecord = Record<string, unknown>;

function records(dir: string): MetricsRecord[] {
  return fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as MetricsRecord);
}

/** The step and epoch records without the fields that measure time. */
function deterministicRecords(dir: string): MetricsRecord[] {
  return records(dir)
    .filter((r) => r['type'] === 'step' || r['type'] === 'epoch')
    .map(({ imagesPerSecond: _i, seconds: _s, time: _t, ...rest }) => rest);
}

test('a resume that finds no checkpoint starts fresh and drops the records of the crashed attempt', async () => {
  const ref = await referenceWeights();
  const dir = path.join(root, 'crash-no-checkpoint');
  // A crash in epoch 1 with epoch-end checkpoints only: 3 step records, no checkpoint.
  await assert.rejects(
    tinyRun(dir, { checkpointEverySteps: 0, afterStep: (step) => { if (step === 3) throw new Error('simulated crash'); } }),
    /simulated crash/,
  );
  assert.equal(listCheckpoints(dir).length, 0);
  assert.equal(records(dir).filter((r) => r['type'] === 'step').length, 3);
  const messages: string[] = [];
  const s = await tinyRun(dir, { resume: true, checkpointEverySteps: 0, progress: { step() {}, epochEnd() {}, message: (m) => messages.push(m) } });
  assert.equal(s.resumedFrom, undefined);
  assert.ok(messages.some((m) => /starting a fresh run/.test(m) && /dropped/.test(m)), messages.join('\n'));
  const steps = records(dir).filter((r) => r['type'] === 'step');
  assert.deepEqual(steps.map((r) => r['globalStep']), Array.from({ length: 12 }, (_, i) => i + 1), 'every step recorded once');
  assertBitwiseEqual(finalWeights(dir), ref);
  assert.deepEqual(deterministicRecords(dir), deterministicRecords(path.join(root, 'uninterrupted')));
});

test('the per-step metrics window survives a resume: the records equal an uninterrupted run\'s', async () => {
  // logEverySteps 3 and a stop at step 5: the record at step 6 averages steps 4-6 across the stop.
  const full = path.join(root, 'window-full');
  await tinyRun(full, { logEverySteps: 3 });
  const dir = path.join(root, 'window-resumed');
  await tinyRun(dir, { logEverySteps: 3, stopAfterSteps: 5 });
  await tinyRun(dir, { logEverySteps: 3, resume: true });
  assert.equal(deterministicRecords(full).filter((r) => r['type'] === 'step').length, 4);
  assert.deepEqual(deterministicRecords(dir), deterministicRecords(full));
});

test('a second run into the same folder is refused naming the process; a stale lock does not block', async () => {
  const dir = path.join(root, 'locked');
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let reached!: () => void;
  const atStep1 = new Promise<void>((r) => (reached = r));
  const first = tinyRun(dir, { afterStep: async (step) => { if (step === 1) { reached(); await gate; } } });
  await atStep1;
  await assert.rejects(tinyRun(dir, { resume: true }), (err: Error) => err.message.includes(dir) && err.message.includes(`in use by process ${process.pid}`));
  await assert.rejects(tinyRun(path.join(dir), {}), /in use by process/);
  release();
  const s = await first;
  assert.equal(s.globalStep, 12, 'the first run was not disturbed');
  assert.ok(!fs.existsSync(path.join(dir, 'run.lock')), 'the lock is released at the end');
  // A lock left by a process that no longer runs (SIGKILL) is taken over.
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const stale = path.join(root, 'stale-lock');
  fs.mkdirSync(stale, { recursive: true });
  fs.writeFileSync(path.join(stale, 'run.lock'), JSON.stringify({ pid: Number(dead.stdout), hostname: os.hostname(), startedAt: 'then' }));
  assert.equal((await tinyRun(stale)).globalStep, 12);
});

test('resuming a finished run says so and appends nothing; fewer epochs than done and an --out that is a file are refused', async () => {
  await referenceWeights();
  const dir = path.join(root, 'uninterrupted');
  const before = fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8');
  const messages: string[] = [];
  const s = await tinyRun(dir, { resume: true, progress: { step() {}, epochEnd() {}, message: (m) => messages.push(m) } });
  assert.equal(s.alreadyFinished, true);
  assert.equal(s.globalStep, 12);
  assert.ok(messages.some((m) => m.includes('already finished (3/3 epochs)')), messages.join('\n'));
  assert.equal(fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8'), before, 'no resume record for a run with nothing to do');
  await assert.rejects(tinyRun(dir, { resume: true, epochs: 1 }), /already completed 3 epochs; 1 epochs would shorten it/);
  const file = path.join(root, 'a-file');
  fs.writeFileSync(file, 'x');
  await assert.rejects(tinyRun(file), new RegExp(`${file}: exists and is not a folder`));
});

test('checkRunFolder makes the folder checks early, for callers with slow work before runTraining', async () => {
  await referenceWeights();
  const file = path.join(root, 'a-file-2');
  fs.writeFileSync(file, 'x');
  assert.throws(() => checkRunFolder(file, false), /exists and is not a folder/);
  const run = path.join(root, 'uninterrupted');
  assert.throws(() => checkRunFolder(run, false), /already holds a training run; resume it/);
  checkRunFolder(run, true);
  checkRunFolder(path.join(root, 'not-yet'), false);
  fs.writeFileSync(path.join(run, 'run.lock'), JSON.stringify({ pid: process.pid, hostname: os.hostname(), startedAt: 'now' }));
  assert.throws(() => checkRunFolder(run, true), new RegExp(`in use by process ${process.pid}`));
  fs.rmSync(path.join(run, 'run.lock'));
});
