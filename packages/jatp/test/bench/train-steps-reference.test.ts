// The PyTorch twin of bench:train-steps (bench/reference_models.py: the registry small CNN, the JATP
// loss and the feature attack) must compute the toolkit's JATP step, or the bench times different
// work. Checked against the files the bench itself writes: loss terms, every trained gradient and
// the attack's output from a common start (JATP's feature attack, NRP's SSP); likewise APE-G and NRP. Skipped when
// /usr/bin/python3 cannot import torch (python3-torch), except under CI=true, where that fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { randomStart } from '../../src/attacks/ball-and-losses.js';
import { buildJatpStep, comparePorts, probeJatpStep, writeJatpStepForReference, type JatpStepSetup } from '../../bench/train-steps-jatp.js';
import { apegPortHolds, buildApegStep, compareApegPorts, probeApegStep, writeApegStepForReference } from '../../bench/train-steps-apeg.js';
import { buildNrpStep, compareNrpPorts, nrpPortHolds, probeNrpStep, writeNrpStepForReference, type NrpReferenceProbe } from '../../bench/train-steps-nrp.js';

// The engine the bench times when its addon loads (seconds); else the `cpu` backend (minutes: its
// convolution gradients are slow). PyTorch is the independent reference either way.
async function pickBackend(): Promise<string> {
  try {
    await import('tfjs-backend-torch');
    if (await tf.setBackend('torch')) return 'torch';
  } catch { /* no addon: cpu below */ }
  await tf.setBackend('cpu');
  return 'cpu';
}
await pickBackend();
const PY = '/usr/bin/python3';
const hasTorch = spawnSync(PY, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
const noTorch = `${PY} cannot import torch (install python3-torch to run this cross-check)`;
const skip = hasTorch || process.env.CI === 'true' ? false : noTorch;
const script = fileURLToPath(new URL('../../bench/train_steps_reference.py', import.meta.url));

function reference(dir: string): { loss: Record<string, number>; grads: Record<string, number[]>; crafted: number[] } {
  assert.ok(hasTorch, `CI=true, but ${noTorch}`);
  const r = spawnSync(PY, [script, '--data', dir, '--mode', 'probe', '--threads', '1'], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as ReturnType<typeof reference>;
}

/**
 * A seeded setup on 4 random 12x12x1 images, with non-trivial target BN statistics (a BN slip must
 * show). Small running variances and a 10x output convolution of P make the target's features
 * differ visibly between P(x) and P(x~): at initialisation the FSM term is ~1e-5 of the loss.
 */
function setup(): JatpStepSetup {
  const x = tf.randomUniform([4, 12, 12, 1], 0, 1, 'float32', 3) as tf.Tensor4D;
  const y = tf.tensor1d([0, 1, 2, 3], 'int32');
  const s = buildJatpStep(7, { x, y });
  let seed = 50;
  for (const [name, v] of s.target.namedWeights()) {
    if (name.endsWith('.running_var')) tf.tidy(() => v.assign(tf.randomUniform(v.shape, 0.02, 0.2, 'float32', seed++)));
    if (name.endsWith('.running_mean')) tf.tidy(() => v.assign(tf.randomNormal(v.shape, 0, 0.3, 'float32', seed++)));
  }
  const trunk = s.purifier.namedWeights().get('trunk_conv.weight')!;
  tf.tidy(() => trunk.assign(tf.mul(trunk, 10)));
  return s;
}

test('bench:train-steps: the PyTorch JATP step matches the toolkit (loss terms, purifier gradients, feature attack)', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'jatp-train-steps-port-'));
  const s = setup();
  const o = s.recipe.options;
  const start = randomStart(s.batch.x, 'Linf', o.eps, 11);
  // The loss is checked at an x~ far from x (uniform noise), so that the FSM term is a sizeable
  // part of the loss and its gradient: near x it is tiny and an error in it would hide below the
  // tolerances. The feature attack is checked from a start inside the ball, as training runs it.
  const xAdv = tf.randomUniform(s.batch.x.shape, 0, 1, 'float32', 12) as tf.Tensor4D;
  try {
    await writeJatpStepForReference(dir, s, xAdv, start);
    const ours = probeJatpStep(s, xAdv, start);
    const theirs = reference(dir);
    // Not vacuous: every loss term is active and x~ moved away from the start.
    for (const k of ['bce', 'fsm', 'pixel'] as const) assert.ok(ours.loss[k] > 1e-6, `${k} = ${ours.loss[k]}`);
    assert.ok(o.loss.alpha * ours.loss.fsm > 1e-2 * ours.loss.total, `the FSM term is too small to check: ${JSON.stringify(ours.loss)}`);
    const startData = start.dataSync();
    assert.ok(ours.crafted.some((v, i) => Math.abs(v - startData[i]!) > 1e-3), 'the feature attack did not move');
    const report = comparePorts(ours, theirs);
    assert.ok(report.lossRelative < 1e-5, `loss terms differ: ${JSON.stringify(report)}`);
    assert.ok(report.gradRelative < 1e-4, `gradients differ: ${JSON.stringify(report)}`);
    assert.ok(report.craftedMismatch < 2e-3, `x~ differs: ${JSON.stringify(report)}`);

    // The same comparison sees a real port error: α 4 instead of 5 in the toolkit's loss.
    const wrong = buildJatpStep(7, s.batch);
    for (const [name, v] of wrong.target.namedWeights()) v.assign(s.target.namedWeights().get(name)!);
    for (const [name, v] of wrong.purifier.namedWeights()) v.assign(s.purifier.namedWeights().get(name)!);
    (wrong.recipe.options.loss as { alpha: number }).alpha = 4;
    const bad = comparePorts(probeJatpStep(wrong, xAdv, start), theirs);
    wrong.dispose();
    assert.ok(bad.lossRelative > 1e-4 && bad.gradRelative > 1e-3, `an α slip went unseen: ${JSON.stringify(bad)}`);
  } finally {
    tf.dispose([start, xAdv, s.batch.x, s.batch.y]);
    s.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bench:train-steps: the PyTorch APE-G step matches the toolkit (losses; gradients as close to float64 as PyTorch float32)', { skip }, async () => {
  assert.ok(hasTorch, `CI=true, but ${noTorch}`);
  const dir = mkdtempSync(join(tmpdir(), 'jatp-train-steps-apeg-'));
  const natural = tf.randomUniform([4, 16, 16, 1], 0, 1, 'float32', 21) as tf.Tensor4D;
  const adversarial = tf.tidy(() => tf.clipByValue(tf.add(natural, tf.randomUniform(natural.shape, -0.1, 0.1, 'float32', 22)), 0, 1)) as tf.Tensor4D;
  const y = tf.tensor1d([0, 1, 2, 3], 'int32');
  const s = buildApegStep(3, natural, adversarial, y);
  try {
    await writeApegStepForReference(dir, s);
    const r = spawnSync(PY, [script, '--data', dir, '--mode', 'probe', '--threads', '1'], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
    assert.equal(r.status, 0, r.stderr);
    const theirs = JSON.parse(r.stdout.trim().split('\n').pop()!) as Parameters<typeof compareApegPorts>[1];
    const ours = probeApegStep(s);
    for (const v of Object.values(ours.loss)) assert.ok(v > 1e-3, `a loss term is ~0: ${JSON.stringify(ours.loss)}`);
    const report = compareApegPorts(ours, theirs);
    assert.ok(apegPortHolds(report), JSON.stringify(report));
    assert.ok(report.oursVs64.d < 1e-4 && report.oursVs64.g < 1e-4, JSON.stringify(report));

    // A real port error shows: the generator loss with the weights ξ swapped (0.3 MSE + 0.7 BCE).
    const wrong = buildApegStep(3, natural, adversarial, y);
    for (const [name, v] of wrong.generator.namedWeights()) v.assign(s.generator.namedWeights().get(name)!);
    for (const [name, v] of wrong.discriminator.namedWeights()) v.assign(s.discriminator.namedWeights().get(name)!);
    (wrong.recipe.options as { weights: { mse: number; adversarial: number } }).weights = { mse: 0.3, adversarial: 0.7 };
    const bad = compareApegPorts(probeApegStep(wrong), theirs);
    wrong.dispose();
    assert.ok(!apegPortHolds(bad), `swapped generator weights went unseen: ${JSON.stringify(bad)}`);
  } finally {
    tf.dispose([natural, adversarial, y]);
    s.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bench:train-steps: the PyTorch NRP step matches the toolkit (loss terms, both networks\' gradients, SSP examples)', { skip }, async () => {
  assert.ok(hasTorch, `CI=true, but ${noTorch}`);
  const dir = mkdtempSync(join(tmpdir(), 'jatp-train-steps-nrp-'));
  // 16x16 is the discriminator's smallest input (four stride-2 stages down to 1x1).
  const natural = tf.randomUniform([4, 16, 16, 1], 0, 1, 'float32', 31) as tf.Tensor4D;
  const y = tf.tensor1d([0, 1, 2, 3], 'int32');
  const s = buildNrpStep(5, natural, y);
  // Non-trivial target BN statistics, so that a slip in Φ's eval-mode batch norm shows.
  let seed = 60;
  for (const [name, v] of s.target.namedWeights()) {
    if (name.endsWith('.running_var')) tf.tidy(() => v.assign(tf.randomUniform(v.shape, 0.02, 0.2, 'float32', seed++)));
    if (name.endsWith('.running_mean')) tf.tidy(() => v.assign(tf.randomNormal(v.shape, 0, 0.3, 'float32', seed++)));
  }
  const start = randomStart(natural, 'Linf', s.ssp.options.eps, 32);
  try {
    await writeNrpStepForReference(dir, s, start);
    const r = spawnSync(PY, [script, '--data', dir, '--mode', 'probe', '--threads', '1'], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
    assert.equal(r.status, 0, r.stderr);
    const theirs = JSON.parse(r.stdout.trim().split('\n').pop()!) as NrpReferenceProbe;
    const ours = probeNrpStep(s, start);
    // Not vacuous: every loss term is active (each is compared by itself, to 1e-5), each weighted term
    // shows in the purifier's loss (α_n = 5e-3 keeps the adversarial one near 1e-3 of it here), and
    // the SSP moved away from its start.
    const w = s.recipe.options.weights;
    for (const v of Object.values(ours.loss)) assert.ok(v > 1e-4, `a loss term is ~0: ${JSON.stringify(ours.loss)}`);
    for (const [k, weight] of [['lossGAdv', w.adversarial], ['pixel', w.pixel], ['feature', w.feature]] as const) {
      assert.ok(weight * ours.loss[k] > 1e-4 * ours.loss.lossG, `the ${k} term is too small to check: ${JSON.stringify(ours.loss)}`);
    }
    const startData = start.dataSync();
    assert.ok(ours.crafted.some((v, i) => Math.abs(v - startData[i]!) > 1e-3), 'the SSP did not move');
    const report = compareNrpPorts(ours, theirs);
    assert.ok(nrpPortHolds(report), JSON.stringify(report));
    assert.ok(report.oursVs64.g < 1e-4 && report.oursVs64.d < 1e-4, JSON.stringify(report));

    // A real port error shows: the adversarial and pixel weights of the purifier loss swapped.
    const wrong = buildNrpStep(5, natural, y);
    for (const [name, v] of wrong.target.namedWeights()) v.assign(s.target.namedWeights().get(name)!);
    for (const [name, v] of wrong.purifier.namedWeights()) v.assign(s.purifier.namedWeights().get(name)!);
    for (const [name, v] of wrong.discriminator.namedWeights()) v.assign(s.discriminator.namedWeights().get(name)!);
    (wrong.recipe.options as { weights: typeof w }).weights = { ...w, adversarial: w.pixel, pixel: w.adversarial };
    const bad = compareNrpPorts(probeNrpStep(wrong, start), theirs);
    wrong.dispose();
    assert.ok(!nrpPortHolds(bad), `swapped purifier loss weights went unseen: ${JSON.stringify(bad)}`);
  } finally {
    tf.dispose([natural, y, start]);
    s.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});
