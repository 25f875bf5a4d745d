/**
 * Baseline validity: the paired oblivious gain and its interval against the closed form from the
 * discordant counts, the identity ratio, the marks, and the OBL evaluation's distances on a
 * pre-processor with a known output (a constant shift) against float64 arithmetic.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { evaluateOblivious, identityRatio, pairedGain } from '../../src/experiments/suite/oblivious.js';
import { validityMarks, validityRecord, NEAR_IDENTITY_RATIO, type ObliviousEval } from '../../src/experiments/suite/validity.js';
import type { Attack } from '../../src/attacks/types.js';

/** Outcomes with p examples only `a` gets right, q only `b`, r both, s neither. */
function outcomes(p: number, q: number, r: number, s: number): { a: boolean[]; b: boolean[] } {
  const a = [...Array(p).fill(true), ...Array(q).fill(false), ...Array(r).fill(true), ...Array(s).fill(false)] as boolean[];
  const b = [...Array(p).fill(false), ...Array(q).fill(true), ...Array(r).fill(true), ...Array(s).fill(false)] as boolean[];
  return { a, b };
}

test('pairedGain: mean difference (p − q)/n and the t-free normal interval from the differences', () => {
  const { a, b } = outcomes(30, 10, 400, 560);
  const g = pairedGain(a, b);
  const n = 1000;
  const mean = 20 / n;
  // Differences: 30 of +1, 10 of -1, 960 of 0: sample variance (40 - n mean^2)/(n - 1).
  const sd = Math.sqrt((40 - n * mean * mean) / (n - 1));
  assert.equal(g.n, n);
  assert.equal(g.aOnly, 30);
  assert.equal(g.bOnly, 10);
  assert.ok(Math.abs(g.gain - 0.02) < 1e-15);
  assert.ok(Math.abs(g.lo - (mean - (1.96 * sd) / Math.sqrt(n))) < 1e-12);
  assert.ok(Math.abs(g.hi - (mean + (1.96 * sd) / Math.sqrt(n))) < 1e-12);
  const same = pairedGain([true, false], [true, false]);
  assert.deepEqual([same.gain, same.lo, same.hi], [0, 0, 0]);
  assert.throws(() => pairedGain([true], [true, false]), /same examples/);
});

test('identityRatio and the validity marks', () => {
  assert.equal(identityRatio(0.01, 0.04), 0.25);
  assert.equal(identityRatio(0.01, 0), undefined);
  const obl = (p: number, q: number, r: number, s: number, idAdv: number): ObliviousEval => {
    const { a, b } = outcomes(p, q, r, s);
    return {
      n: a.length,
      attacks: [{ attack: 'obl-pgd40', bpda: false, robustAccuracy: a.filter(Boolean).length / a.length, robust: a, meanL1AdvVsNatural: 0, seconds: 0 }],
      oblivious: { targetCleanAccuracy: 1, targetClean: [], targetRobustAccuracy: b.filter(Boolean).length / b.length, targetRobust: b, perturbation: 0.08, identityNatural: 0.01, identityAdversarial: idAdv },
    };
  };
  const plateau = { reached: true, epochs: 12, plateauEpochs: [4, 8, 12] };
  // Two seeds, pooled: p = 60, q = 20 over 2,000 images -> +2 points; far from identity.
  const good = validityRecord('X', [obl(30, 10, 400, 560, 0.04), obl(30, 10, 400, 560, 0.04)], [plateau, plateau], { cells: [], trainings: [] });
  assert.ok(Math.abs(good.obliviousGain!.points - 2) < 1e-12);
  assert.equal(good.obliviousGain!.n, 2000);
  assert.deepEqual(good.gainPerSeed.map((g) => Math.round(g! * 1e9) / 1e9), [2, 2]);
  assert.ok(Math.abs(good.identityRatio! - 0.5) < 1e-12);
  assert.deepEqual(good.marks, []);
  // Gain interval through 0, adversarial distance under the threshold, one seed at the cap, one missing.
  const bad = validityRecord('Y', [obl(11, 10, 400, 579, (NEAR_IDENTITY_RATIO / 2) * 0.08), undefined], [plateau, { reached: false, epochs: 30, plateauEpochs: [9] }], { cells: [], trainings: [] });
  assert.deepEqual(bad.marks, ['oblivious gain within noise', 'near identity', 'no plateau']);
  assert.deepEqual([bad.seedsDone, bad.gainPerSeed[1]], [1, null]);
  // F right on 10, T right on 60 of 1,000: −5 points, interval wholly below 0.
  const harmful = validityRecord('Z', [obl(10, 60, 400, 530, 0.04)], [plateau], { cells: [], trainings: [] });
  assert.ok(harmful.obliviousGain!.hi < 0);
  assert.deepEqual(harmful.marks, ['oblivious gain negative']);
});

test('validityMarks: an entry carries the marks of the training its own cells use, not of the same method against another target', () => {
  const plateau = { reached: true, epochs: 12, plateauEpochs: [4, 8, 12] };
  const capped = { reached: false, epochs: 30, plateauEpochs: [9] };
  const vsTrades = validityRecord('APE-G (Obl) → TRADES', [undefined], [plateau], { cells: [], trainings: ['defense-apeg-obl-vs-trades-s0-1a4a33708a'] });
  const vsStandard = validityRecord('APE-G (Obl) → Standard', [undefined], [capped], { cells: [], trainings: ['defense-apeg-obl-vs-standard-s0-77aa00bb11'] });
  const marks = validityMarks([vsTrades, vsStandard]);
  assert.deepEqual(marks('APE-G', ['eval-pgd-apeg-obl-vs-trades-on-trades-s0-3d391488fa']), []);
  assert.deepEqual(marks('APE-G', ['eval-pgd-apeg-obl-vs-standard-on-standard-s1-0123456789']), ['no plateau (Standard target)']);
  // An ablation's cells are not the full method's: 'jatp-no-fsm' does not match 'jatp'.
  const jatp = validityRecord('JATP → TRADES', [undefined], [capped], { cells: [], trainings: ['defense-jatp-vs-trades-s0-d7a396fedb'] });
  assert.deepEqual(validityMarks([jatp])('JATP', ['eval-pgd-jatp-no-fsm-vs-trades-on-trades-s0-e78dd3854e']), []);
  // Without cells every record of the row applies.
  assert.deepEqual(marks('APE-G', []), ['no plateau (Standard target)']);
});

test('evaluateOblivious: examples made against T alone, scored on T and F; identity distances of a known P', async () => {
  await tf.setBackend('cpu');
  const before = tf.memory().numTensors;
  // T: class = whether the mean pixel exceeds 0.5 (two logits). P: x -> x + 0.1 (clipped to [0, 1]).
  const target = (x: tf.Tensor4D) => tf.tidy(() => { const m = tf.sub(tf.mean(x, [1, 2, 3]), 0.5); return tf.stack([tf.neg(m), m], 1) as tf.Tensor2D; });
  const preprocess = (x: tf.Tensor4D) => tf.tidy(() => tf.clipByValue(tf.add(x, 0.1), 0, 1) as tf.Tensor4D);
  const full = (x: tf.Tensor4D) => tf.tidy(() => target(preprocess(x)));
  // The "attack" subtracts 0.15 everywhere (clipped), whatever the model: deterministic and known.
  const attack: Attack = { name: 'shift', run: (_m, x) => ({ xAdv: tf.tidy(() => tf.clipByValue(tf.sub(x, 0.15), 0, 1) as tf.Tensor4D), success: [] }) } as unknown as Attack;
  const values = [0.3, 0.55, 0.62, 0.7, 0.95, 0.58];
  const labels = values.map((v) => (v > 0.5 ? 1 : 0));
  const split = { images: new Uint8Array(values.flatMap((v) => Array(4).fill(Math.round(v * 255)))), labels: new Int32Array(labels), count: values.length, imageShape: [2, 2, 1] as [number, number, number] };
  const r = evaluateOblivious(target, full, preprocess, split as never, { attack, attackName: 'obl-shift', batchSize: 4, seed: 0 });
  // float64 reference.
  const px = values.map((v) => Math.round(v * 255) / 255);
  const adv = px.map((v) => Math.max(0, v - 0.15));
  const pur = (v: number) => Math.min(1, v + 0.1);
  const cls = (v: number) => (v > 0.5 ? 1 : 0);
  const tRobust = px.map((v, i) => cls(v) === labels[i] && cls(adv[i]!) === labels[i]);
  const fRobust = px.map((v, i) => cls(pur(v)) === labels[i] && cls(pur(adv[i]!)) === labels[i]);
  assert.deepEqual(r.oblivious.targetRobust, tRobust);
  assert.deepEqual(r.attacks[0]!.robust, fRobust);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  assert.ok(Math.abs(r.oblivious.perturbation - mean(px.map((v, i) => v - adv[i]!))) < 1e-6);
  assert.ok(Math.abs(r.oblivious.identityNatural - mean(px.map((v) => pur(v) - v))) < 1e-6);
  assert.ok(Math.abs(r.oblivious.identityAdversarial - mean(adv.map((v) => pur(v) - v))) < 1e-6);
  assert.equal(r.n, 6);
  assert.equal(tf.memory().numTensors, before, 'evaluateOblivious leaks tensors');
});
