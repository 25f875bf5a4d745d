/**
 * Resumable and sharded evaluation through the real CLI: a `jatp eval` SIGKILLed at random batches
 * several times in a row and then run again ends with the JSON of an uninterrupted run (the fault injection that shows a
 * killed evaluation loses nothing); shards 1/2 + 2/2 merged, and --nproc 2, give that JSON too. Only the wall-clock `seconds` fields may differ between runs, and are left out of the
 * comparison. The cpu backend is used: it is deterministic, so equality is exact.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { writeEvalFixture, withoutTimes, type EvalFixture } from './eval-fixture.js';

const MAIN = path.resolve(import.meta.dirname, '../../src/cli/main.ts');
const ENV = { ...process.env, JATP_BACKEND: 'cpu' };

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Runs `jatp <args>`; with `killAfter`, SIGKILLs it once the state file holds that many attack batches. */
function jatp(args: string[], killAfter?: { state: string; batches: number }): Promise<Run> {
  return node([MAIN, ...args], killAfter);
}

function node(args: string[], killAfter?: { state: string; batches: number }): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], { env: ENV, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let timer: NodeJS.Timeout | undefined;
    if (killAfter) {
      timer = setInterval(() => {
        if (attackBatchesDone(killAfter.state) >= killAfter.batches) child.kill('SIGKILL');
      }, 10);
    }
    child.on('exit', (code, signal) => {
      if (timer) clearInterval(timer);
      resolve({ code, signal, stderr });
    });
  });
}

function attackBatchesDone(state: string): number {
  try {
    const s = JSON.parse(fs.readFileSync(state, 'utf8')) as { attacks: Record<string, unknown>[] };
    return s.attacks.reduce((acc, a) => acc + Object.keys(a).length, 0);
  } catch {
    return 0; // not written yet
  }
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jatp-eval-resume-'));
const COUNT = 40;
const BATCH = 4; // 10 batches per attack
let fixture: EvalFixture;
let reference: string;

function evalArgs(json: string, extra: string[] = []): string[] {
  return ['eval', '--model', fixture.model, '--data-dir', fixture.dataDir, '--n', String(COUNT), '--batch-size', String(BATCH), '--attacks', 'pgd20,dlr10', '--eps', '0.05', '--json', json, ...extra];
}

test('setup: uninterrupted reference run (reads only the test split: the train IDX files are garbage)', async () => {
  fixture = await writeEvalFixture(dir, COUNT);
  const out = path.join(dir, 'reference.json');
  const run = await jatp(evalArgs(out));
  assert.equal(run.code, 0, run.stderr);
  reference = fs.readFileSync(out, 'utf8');
  const report = JSON.parse(reference) as { cleanAccuracy: number; attacks: { robustAccuracy: number }[]; unionRobustAccuracy: number; leaderboard: { n_examples: number } };
  assert.equal(report.cleanAccuracy, 1, 'labels are the model\'s own predictions');
  assert.ok(report.attacks[0]!.robustAccuracy < 1, 'PGD fools some points (otherwise the comparison proves little)');
  assert.ok(report.unionRobustAccuracy <= Math.min(...report.attacks.map((a) => a.robustAccuracy)));
  assert.equal(report.leaderboard.n_examples, COUNT);
});

test('SIGKILL at a random batch three times in a row, then the same command again: the JSON of an uninterrupted run', async () => {
  const out = path.join(dir, 'killed.json');
  const state = `${out}.state.json`;
  // Seeded choice of kill points (no Math.random): strictly increasing batch counts out of 20.
  const killPoints = [3, 8, 14];
  let firstRecord: unknown;
  for (const batches of killPoints) {
    const run = await jatp(evalArgs(out), { state, batches });
    assert.equal(run.signal, 'SIGKILL', `run should have been killed after ${batches} batches (exit ${run.code}): ${run.stderr}`);
    assert.ok(!fs.existsSync(out), 'no report is written by a killed run');
    const done = attackBatchesDone(state);
    assert.ok(done >= batches && done < 20, `state holds ${done} batches after a kill at ${batches}`);
    firstRecord ??= (JSON.parse(fs.readFileSync(state, 'utf8')) as { attacks: Record<string, unknown>[] }).attacks[0]!['0'];
  }
  const final = await jatp(['eval', '--resume', state]);
  assert.equal(final.code, 0, final.stderr);
  assert.match(final.stderr, /resuming from/);
  // Really resumed: the batch finished before the first kill was kept (its measured seconds included), not redone.
  assert.deepEqual((JSON.parse(fs.readFileSync(state, 'utf8')) as { attacks: Record<string, unknown>[] }).attacks[0]!['0'], firstRecord);
  assert.equal(withoutTimes(fs.readFileSync(out, 'utf8')), withoutTimes(reference));
});

test('a state from another evaluation is refused, naming what changed', async () => {
  const out = path.join(dir, 'killed.json'); // its state is complete and keyed by seed 0
  const run = await jatp(evalArgs(out, ['--seed', '1']));
  assert.equal(run.code, 1);
  assert.match(run.stderr, /belongs to a different evaluation; changed: seed \(0 -> 1\)/);
});

test('--shard 1/2 and 2/2 merged, and --nproc 2, equal the unsharded JSON', async () => {
  const s1 = path.join(dir, 's1.json');
  const s2 = path.join(dir, 's2.json');
  const [a, b] = await Promise.all([jatp(evalArgs(s1, ['--shard', '1/2'])), jatp(evalArgs(s2, ['--shard', '2/2']))]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  const shardReport = JSON.parse(fs.readFileSync(s1, 'utf8')) as { n: number; shard: { index: number; count: number } };
  assert.equal(shardReport.n, COUNT / 2);
  const merged = path.join(dir, 'merged.json');
  const m = await jatp(['eval', 'merge', s2, s1, '--json', merged]);
  assert.equal(m.code, 0, m.stderr);
  assert.equal(withoutTimes(fs.readFileSync(merged, 'utf8')), withoutTimes(reference));

  const missing = await jatp(['eval', 'merge', s1, '--json', path.join(dir, 'x.json')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /shard\(s\) 2\/2 missing/);

  const parallel = path.join(dir, 'parallel.json');
  const p = await jatp(evalArgs(parallel, ['--nproc', '2']));
  assert.equal(p.code, 0, p.stderr);
  assert.equal(withoutTimes(fs.readFileSync(parallel, 'utf8')), withoutTimes(reference));
});

test('AutoAttack (all four stages, small budgets) SIGKILLed mid-attack and resumed: the uninterrupted report', async () => {
  const child = path.resolve(import.meta.dirname, 'autoattack-child.ts');
  const refOut = path.join(dir, 'aa-ref.json');
  const ref = await node([child, path.join(dir, 'aa-ref.state.json'), refOut]);
  assert.equal(ref.code, 0, ref.stderr);
  const refReport = JSON.parse(fs.readFileSync(refOut, 'utf8')) as { attacks: { robustAccuracy: number; stages: unknown[] }[] };
  assert.equal(refReport.attacks[0]!.stages.length, 4);
  assert.ok(refReport.attacks[0]!.robustAccuracy < 1);

  const state = path.join(dir, 'aa.state.json');
  const out = path.join(dir, 'aa.json');
  const killed = await node([child, state, out], { state, batches: 2 });
  assert.equal(killed.signal, 'SIGKILL', killed.stderr);
  const done = attackBatchesDone(state);
  assert.ok(done >= 2 && done < 6, `killed with ${done} of 6 AutoAttack batches recorded`);
  const resumed = await node([child, state, out]);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.equal(withoutTimes(fs.readFileSync(out, 'utf8')), withoutTimes(fs.readFileSync(refOut, 'utf8')));
});

test('cleanup', () => {
  fs.rmSync(dir, { recursive: true, force: true });
});
