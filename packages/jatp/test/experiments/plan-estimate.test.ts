/**
 * `jatp experiment plan`'s time estimates for trainings, on cell folders written by the test: a
 * training under way is estimated from its own epochs (not from a cheaper training of the same
 * method), a training not started from the epochs of one of its kind under way, and a finished
 * sibling sets how many epochs a plateau-stopped training is expected to run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { planGrid, type PlanLine } from '../../src/experiments/suite/scheduler.js';

const out = fs.mkdtempSync(path.join(os.tmpdir(), 'jatp-plan-'));
const plan = (): PlanLine[] => planGrid({ out, scale: 'evidence', dataset: 'fashion-mnist', seeds: 3, experiments: ['fig1'] }).lines;
const keyOf = (lines: readonly PlanLine[], prefix: string): string => {
  const l = lines.find((x) => x.key.startsWith(prefix));
  assert.ok(l, `no cell ${prefix}`);
  return l.key;
};
const line = (key: string): PlanLine => plan().find((l) => l.key === key)!;

/** A training folder with `epochs` as the loop's budget and one metrics record per entry of `seconds`. */
function writeTraining(key: string, budget: number, seconds: readonly number[], finished = false): void {
  const dir = path.join(out, 'cells', key);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ recipe: 'nrp', loop: { epochs: budget, batchSize: 50 } }));
  const records = seconds.map((s, i) => JSON.stringify({ type: 'epoch', epoch: i + 1, globalStep: 20 * (i + 1), seconds: s }));
  fs.writeFileSync(path.join(dir, 'metrics.jsonl'), `${[JSON.stringify({ type: 'step', step: 1 }), ...records].join('\n')}\n`);
  if (finished) fs.writeFileSync(path.join(dir, 'done.json'), JSON.stringify({ key, wallSeconds: seconds.reduce((a, b) => a + b, 0) }));
}

test('a training under way is estimated from its own epochs, not from a cheaper kind of the same method', () => {
  const lines = plan();
  const nrpObl = keyOf(lines, 'defense-nrp-obl-vs-standard-s0-');
  const fullS0 = keyOf(lines, 'defense-nrp-full-vs-standard-s0-');
  const fullS1 = keyOf(lines, 'defense-nrp-full-vs-standard-s1-');
  const fullS2 = keyOf(lines, 'defense-nrp-full-vs-standard-s2-');

  // Before anything ran: the built-in prior.
  assert.equal(line(fullS0).basis, 'prior');

  // NRP on oblivious examples finished in 10 epochs of 8 s: before, every NRP training was guessed at 80 s.
  writeTraining(nrpObl, 30, Array(10).fill(8), true);
  assert.equal(line(fullS0).seconds, 80);

  // NRP (Full) has run 4 epochs of 100 s out of a budget of 30, nothing of its kind finished: 26 more.
  // Epoch 4 was written twice (a resume): it counts once.
  writeTraining(fullS0, 30, [100, 100, 100, 100]);
  fs.appendFileSync(path.join(out, 'cells', fullS0, 'metrics.jsonl'), `${JSON.stringify({ type: 'epoch', epoch: 4, globalStep: 80, seconds: 100 })}\n`);
  assert.deepEqual([line(fullS0).seconds, line(fullS0).basis], [2600, 'measured']);
  // Its siblings not started yet: the started one's epoch time over the whole budget.
  assert.equal(line(fullS1).seconds, 3000);

  // A sibling finished after 10 epochs (the plateau rule): s0 is expected to run 10 too, so 6 more.
  writeTraining(fullS1, 30, Array(10).fill(120), true);
  assert.equal(line(fullS0).seconds, 600);
  assert.equal(line(fullS1).state, 'done');
  // Not started, with a finished sibling: what the sibling took.
  assert.equal(line(fullS2).seconds, 1200);

  // Past the siblings' epochs, at least one more epoch; never past the budget.
  writeTraining(fullS0, 30, Array(12).fill(100));
  assert.equal(line(fullS0).seconds, 100);
  writeTraining(fullS0, 30, Array(30).fill(100));
  assert.equal(line(fullS0).seconds, 0);
});

test('a metrics file cut short by a kill falls back to the other estimates instead of failing the plan', () => {
  const lines = plan();
  const key = keyOf(lines, 'defense-hgd-full-vs-trades-s0-');
  const dir = path.join(out, 'cells', key);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ loop: { epochs: 30 } }));
  fs.writeFileSync(path.join(dir, 'metrics.jsonl'), '{"type":"epoch","epoch":1,"seconds":50}\n{"type":"epoch","epo');
  const l = line(key);
  assert.equal(l.state, 'partial');
  assert.ok(Number.isFinite(l.seconds) && l.seconds > 0);
});
