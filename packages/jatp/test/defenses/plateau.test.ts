/**
 * The plateau rule against hand-worked series: where each phase ends, the learning-rate multiplier
 * of every epoch, and that a resumed run (reading metrics.jsonl) decides the same as the pure rule.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { epochObjectives, plateauControl, plateauState, type PlateauRule } from '../../src/defenses/plateau.js';
import { defenseDefaults, withPlateau } from '../../src/defenses/presets.js';

const rule: PlateauRule = { objective: 'loss', patience: 2, minRelativeImprovement: 0.1, lrFactors: [0.1, 0.01], maxEpochs: 50 };

test('plateau: a phase ends after `patience` epochs without a relative improvement; the last plateau converges', () => {
  // Phase 0: 10, 8 (improves), 7.5 (< 10 % below 8: no), 7.3 (no) -> plateau at epoch 4.
  // Phase 1 (best reset): 5, 4, 3.9 (no), 3.8 (no) -> plateau at epoch 8.
  // Phase 2: 3, 2.9 (no), 2.8 (no) -> plateau at epoch 11 = last phase -> converged.
  const series = [10, 8, 7.5, 7.3, 5, 4, 3.9, 3.8, 3, 2.9, 2.8, 1];
  const s = plateauState(series, rule);
  assert.deepEqual(s.plateauEpochs, [4, 8, 11]);
  assert.equal(s.converged, true);
  // The multiplier of epoch e is decided by epochs 1..e-1.
  const multipliers = Array.from({ length: 12 }, (_, i) => plateauState(series.slice(0, i), rule).lrMultiplier);
  assert.deepEqual(multipliers, [1, 1, 1, 1, 0.1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.01]);
  assert.equal(plateauState(series.slice(0, 10), rule).converged, false);
});

test('plateau: a steadily improving objective never plateaus; NaN epochs count as no improvement', () => {
  const geometric = Array.from({ length: 30 }, (_, i) => 0.8 ** i);
  const s = plateauState(geometric, rule);
  assert.deepEqual(s.plateauEpochs, []);
  assert.equal(s.converged, false);
  assert.equal(s.lrMultiplier, 1);
  assert.deepEqual(plateauState([1, Number.NaN, Number.NaN], rule).plateauEpochs, [3]);
  // No factors (APE-G: constant lr): the first plateau ends the training.
  assert.equal(plateauState([1, 1, 1], { ...rule, lrFactors: [] }).converged, true);
});

test('plateau: withPlateau takes the paper factors of each method; plateauControl reads metrics.jsonl', () => {
  assert.deepEqual(withPlateau(defenseDefaults('jatp', 'cpu'), { patience: 3, minRelativeImprovement: 0.01, maxEpochs: 30 }).plateau?.lrFactors, [0.1, 0.01]);
  assert.deepEqual(withPlateau(defenseDefaults('nrp', 'cpu'), { patience: 3, minRelativeImprovement: 0.01, maxEpochs: 30 }).plateau?.lrFactors, [0.3, 0.09, 0.027]);
  const apeg = withPlateau(defenseDefaults('apeg', 'cpu'), { patience: 3, minRelativeImprovement: 0.01, maxEpochs: 30 });
  assert.deepEqual([apeg.plateau?.lrFactors, apeg.plateau?.objective, apeg.epochs, apeg.lrMilestones], [[], 'mse', 30, []]);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plateau-'));
  try {
    const series = [10, 8, 7.5, 7.3, 5];
    const lines = [{ type: 'step', loss: 99 }, ...series.map((v, i) => ({ type: 'epoch', epoch: i + 1, train: { loss: v } }))];
    fs.writeFileSync(path.join(dir, 'metrics.jsonl'), `${lines.map((l) => JSON.stringify(l)).join('\n')}\n{"type":"epo`);
    assert.deepEqual(epochObjectives(dir, 'loss'), series);
    const control = plateauControl(dir, rule);
    assert.deepEqual([1, 4, 5, 6].map((e) => control.schedule(e)), [1, 1, 0.1, 0.1]);
    assert.equal(control.converged(), false);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
