import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { STANDARD_STAGES, autoAttack, autoAttackCustom, type StageName } from '../../src/attacks/autoattack.js';
import { apgdCe, apgdT } from '../../src/attacks/apgd.js';
import { square } from '../../src/attacks/square.js';
import type { Attack } from '../../src/attacks/types.js';
import { type TrainedModel, accuracy, ballStats, fashionMissing, fashionSlice, trainFashionMlp } from './fixtures.js';

let trained: TrainedModel | undefined;
before(async () => {
  await tf.setBackend('cpu');
  if (!fashionMissing) trained = trainFashionMlp();
});
after(() => trained?.dispose());

test('the standard version is the spec §5.3 stage list: APGD-CE -> APGD-T -> FAB-T -> Square', () => {
  assert.deepEqual(STANDARD_STAGES.map((s) => s.attack), ['apgd-ce', 'apgd-t', 'fab-t', 'square']);
  assert.equal(STANDARD_STAGES[0]!.options!.nIter, 100);
  assert.equal(STANDARD_STAGES[1]!.options!.nTargetClasses, 9);
  assert.equal(STANDARD_STAGES[3]!.options!.nQueries, 5000);
  assert.equal(STANDARD_STAGES[3]!.options!.pInit, 0.8);
  assert.throws(() => autoAttackCustom(['apgd-ce', 'fgsm' as StageName]), /unknown stage 'fgsm'.*apgd-ce, apgd-t, fab-t, square/);
  assert.throws(() => autoAttackCustom([]), /non-empty/);
});

test('AutoAttack: robust accuracy non-increasing over stages and <= each stage run alone; ball and box hold', { skip: fashionMissing }, (t) => {
  const { model } = trained!;
  const { x, y } = fashionSlice(8000, 40);
  const eps = 0.03;
  const stages = [
    { attack: 'apgd-ce' as const, options: { nIter: 20 } },
    { attack: 'apgd-t' as const, options: { nIter: 20, nTargetClasses: 3 } },
    { attack: 'square' as const, options: { nQueries: 200 } },
  ];
  const seen: string[] = [];
  const before = tf.memory().numTensors;
  const report = autoAttackCustom(stages, { eps, onStage: (s) => seen.push(s.name) }).evaluate(model, x, y, 0);
  assert.equal(tf.memory().numTensors, before + 1, 'only xAdv may survive');
  assert.deepEqual(seen, ['apgd-ce', 'apgd-t', 'square']);
  const clean = accuracy(model, x, y);
  assert.ok(Math.abs(report.cleanAccuracy - clean) < 1e-9);
  let previous = clean;
  for (const s of report.stages) {
    assert.ok(s.robustAccuracy <= previous, `stage ${s.name} raised accuracy`);
    previous = s.robustAccuracy;
  }
  assert.equal(report.robustAccuracy, previous);
  // the reported accuracy is the model's accuracy on the returned images (independent check)
  assert.ok(Math.abs(accuracy(model, report.xAdv, y) - report.robustAccuracy) < 1e-9);
  const b = ballStats(report.xAdv, x);
  assert.ok(b.linf <= eps + 1e-6 && b.min >= 0 && b.max <= 1);
  const alone: Record<string, Attack> = {
    'apgd-ce': apgdCe({ eps, nIter: 20 }),
    'apgd-t': apgdT({ eps, nIter: 20, nTargetClasses: 3 }),
    square: square({ eps, nQueries: 200 }),
  };
  const rows = [`clean ${clean.toFixed(3)}`, ...report.stages.map((s) => `after ${s.name} ${s.robustAccuracy.toFixed(3)}`)];
  for (const [name, attack] of Object.entries(alone)) {
    const r = attack.run(model, x, y, 0);
    const acc = accuracy(model, r.xAdv, y);
    rows.push(`${name} alone ${acc.toFixed(3)}`);
    assert.ok(report.robustAccuracy <= acc, `AutoAttack ${report.robustAccuracy} > ${name} alone ${acc}`);
    r.xAdv.dispose();
  }
  t.diagnostic(rows.join('; '));
  tf.dispose([report.xAdv, x, y]);
});

test('standard AutoAttack (APGD-CE, APGD-T, FAB-T, Square) runs end to end on a small batch', { skip: fashionMissing }, (t) => {
  const { model } = trained!;
  const { x, y } = fashionSlice(8100, 12);
  const report = autoAttack({ eps: 0.1 }).evaluate(model, x, y, 0);
  t.diagnostic(report.stages.map((s) => `${s.name}${s.skipped ? ' (skipped)' : ''} ${s.robustAccuracy.toFixed(3)} ${s.seconds.toFixed(1)}s`).join('; '));
  assert.deepEqual(report.stages.map((s) => s.name), ['apgd-ce', 'apgd-t', 'fab-t', 'square']);
  assert.ok(report.robustAccuracy <= report.cleanAccuracy);
  assert.ok(Math.abs(accuracy(model, report.xAdv, y) - report.robustAccuracy) < 1e-9);
  tf.dispose([report.xAdv, x, y]);
});
