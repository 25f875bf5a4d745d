import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defenseDefaults, parseMethod, parsePreset, DEFENSE_METHODS } from '../../src/defenses/presets.js';
import { applyFlags, type TrainDefenseFlags } from '../../src/cli/train-defense.js';
import { defaultEps, parseMilestones } from '../../src/cli/flags.js';
import { piecewiseSchedule } from '../../src/training/loop.js';

const flags = (extra: Partial<TrainDefenseFlags>): TrainDefenseFlags => ({
  method: 'jatp', target: 't', dataset: 'cifar10', out: 'o', preset: 'paper', seed: '0', ...extra,
});

test('paper presets follow the spec: JATP SGD 0.01 /10 at 15 and 25 over 30 epochs, K=10, alpha 5, beta 3', () => {
  const j = defenseDefaults('jatp', 'paper');
  assert.deepEqual(j.optimizers['main'], { kind: 'sgd', lr: 0.01, momentum: 0.9, weightDecay: 2e-4 });
  const lr = piecewiseSchedule(j.lrMilestones);
  assert.deepEqual([1, 14, 15, 24, 25, 30].map((e) => lr(e, 'main')), [1, 1, 0.1, 0.1, 0.01, 0.01]);
  assert.equal(j.epochs, 30);
  assert.equal(j.jatp!.attackSteps, 10);
  assert.equal(j.jatp!.attackStepSize, 0.01);
  assert.equal(j.jatp!.loss.alpha, 5);
  assert.equal(j.jatp!.loss.beta, 3);
  assert.deepEqual(j.purifier, { arch: 'jatp-purifier', options: { nf: 64, gc: 32, nb: 3 } });
  const a = defenseDefaults('apeg', 'paper');
  assert.deepEqual(a.optimizers['generator'], { kind: 'adam', lr: 2e-4, beta1: 0.5, beta2: 0.999 });
  assert.equal(a.baseline!.attackSteps, 40);
  assert.equal(a.baseline!.attackStepSize, 0.007);
  const h = defenseDefaults('hgd', 'paper');
  const hl = piecewiseSchedule(h.lrMilestones);
  assert.deepEqual([60, 61, 90, 91].map((e) => hl(e, 'main')), [1, 0.1, 0.1, 0.01]);
  const n = defenseDefaults('nrp', 'paper');
  assert.equal(n.baseline!.attackSteps, 100);
  assert.equal(n.batchSize, 300);
});

test('cpu presets shrink networks, data and attacks for every method', () => {
  for (const m of DEFENSE_METHODS) {
    const c = defenseDefaults(m, 'cpu');
    const p = defenseDefaults(m, 'paper');
    assert.equal(c.perClass, 100, m);
    assert.ok(c.epochs < p.epochs, m);
    // APE-G's generator is already small (269k parameters) and has no width option.
    if (m !== 'apeg') assert.notDeepEqual(c.purifier.options, p.purifier.options, `${m}: narrower purifier`);
    if (c.jatp) assert.equal(c.jatp.attackSteps, 5);
    for (const [e] of c.lrMilestones) assert.ok(e >= 2 && e <= c.epochs, `${m}: milestone ${e}`);
  }
});

test('flags override the preset; attack steps scale with eps; ablations; bad values name the flag', () => {
  const base = defenseDefaults('jatp', 'paper');
  const c = applyFlags(base, flags({ eps: '16/255', alpha: '2', pixel: false, fsm: false, epochs: '3', lr: '0.05' }));
  assert.ok(Math.abs(c.jatp!.eps - 16 / 255) < 1e-12);
  assert.ok(Math.abs(c.jatp!.attackStepSize - 0.02) < 1e-12, 'step 0.01 doubled with eps');
  assert.equal(c.jatp!.loss.alpha, 2);
  assert.equal(c.jatp!.loss.noPixel, true);
  assert.equal(c.jatp!.loss.noFsm, true);
  assert.equal(c.jatp!.loss.noBce, false);
  assert.equal(c.epochs, 3);
  assert.equal(c.optimizers['main']!.lr, 0.05);
  assert.equal(defaultEps('fashion-mnist'), 0.1);
  assert.equal(defaultEps('cifar10'), 8 / 255);
  const h = applyFlags(defenseDefaults('hgd', 'paper'), flags({ method: 'hgd', examples: 'full', guidance: 'features', featureLayer: 'layer4' }));
  assert.equal(h.baseline!.examples, 'full');
  assert.equal(h.baseline!.guidance, 'features');
  assert.equal(h.baseline!.guidanceFeature, 'layer4');
  assert.throws(() => applyFlags(base, flags({ epochs: '0' })), /--epochs: '0' is not an integer >= 1/);
  assert.throws(() => applyFlags(base, flags({ lr: 'fast' })), /--lr: 'fast'/);
  assert.throws(() => applyFlags(defenseDefaults('hgd', 'paper'), flags({ method: 'hgd', alpha: '1' })), /jatp\|jatp-joint only/);
  assert.throws(() => applyFlags(defenseDefaults('apeg', 'paper'), flags({ method: 'apeg', examples: 'some' })), /--examples: 'some'/);
  assert.deepEqual(applyFlags(base, flags({ lrMilestones: '8:0.1, 9:0.01' })).lrMilestones, [[8, 0.1], [9, 0.01]]);
  assert.deepEqual(parseMilestones('none'), []);
  assert.throws(() => parseMilestones('8=0.1'), /--lr-milestones: '8=0.1' is not <epoch>:<multiplier>/);
  assert.throws(() => parseMethod('x'), /--method: 'x' is not one of jatp, jatp-joint, apeg, hgd, nrp/);
  assert.throws(() => parsePreset('gpu'), /--preset: 'gpu' is not one of paper, cpu/);
});
