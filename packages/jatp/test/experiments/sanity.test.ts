/**
 * The sanity card fires on models built to trip it and stays quiet on an honest one: a linear
 * classifier behind a smooth pre-processor passes every check; behind a pre-processor that quantizes
 * its input (zero gradient almost everywhere) the zero-gradient check warns and BPDA beats the full
 * gradient; a softmax output and a noisy model trip AutoAttack's flags. The two iteration checks are
 * tested on measurements built to trip them (a model whose attacks get weaker with more steps is not
 * something a few lines can build honestly).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type { LogitsFn } from '../../src/models/types.js';
import type { EvaluatedModel } from '../../src/evaluation/evaluate.js';
import { bpdaModel } from '../../src/attacks/bpda.js';
import { clip01 } from '../../src/attacks/ball-and-losses.js';
import { judge, outputFlags, sanityCard, sweepSvg, type SanityCheck, type SanityMeasurements } from '../../src/evaluation/sanity.js';
import { ensureGradients } from '../../src/gradients.js';
import { hashFloat, tinySplit } from '../training/tiny.js';

await tf.setBackend('cpu');
ensureGradients();

const SHAPE = [6, 6, 1] as const;
const D = 36;
const w = tf.tensor2d(Float32Array.from({ length: D * 10 }, (_, i) => 0.6 * hashFloat(i, 41)), [D, 10]);
const classifier: LogitsFn = (x) => tf.tidy(() => tf.matMul(tf.reshape(x, [x.shape[0], D]), w));
const base = tinySplit(30, SHAPE, 10, 8);
const predicted = tf.tidy(() => tf.argMax(classifier(tf.div(tf.tensor4d(base.images, [30, ...SHAPE], 'float32'), 255)), 1));
const split = { ...base, labels: Int32Array.from(predicted.dataSync()) };
predicted.dispose();

function withPreprocessor(p: (x: tf.Tensor4D) => tf.Tensor4D): EvaluatedModel {
  const preprocess = (x: tf.Tensor4D): tf.Tensor4D => tf.tidy(() => clip01(p(x)));
  return { logits: (x) => tf.tidy(() => classifier(preprocess(x))), bpdaLogits: bpdaModel(classifier, p), preprocess };
}

const options = { eps: 0.03, norm: 'Linf' as const, batchSize: 15, seed: 1, steps: 6, squareQueries: 150, hasPreprocessor: true };
const status = (checks: readonly SanityCheck[], id: string): string => checks.find((c) => c.id === id)!.status;

test('honest model (linear classifier behind a smooth pre-processor): every check passes, numbers are consistent', () => {
  const before = tf.memory().numTensors;
  const card = sanityCard(withPreprocessor((x) => tf.add(tf.mul(x, 0.9), 0.05)), split, options);
  assert.equal(tf.memory().numTensors, before, 'sanity card leaks tensors');
  const warned = card.checks.filter((c) => c.status === 'warn');
  assert.deepEqual(warned, [], 'no warnings on an honest model');
  assert.equal(card.cleanAccuracy, 1);
  assert.ok(card.unionRobustAccuracy <= Math.min(...Object.values(card.attacks)));
  assert.equal(card.sweep[0]!.eps, 0);
  assert.equal(card.sweep[card.sweep.length - 1]!.eps, 0.5);
  const svg = sweepSvg([{ label: 'honest', sweep: card.sweep }], 'sweep');
  assert.equal((svg.match(/<circle/g) ?? []).length, card.sweep.length);
});

test('a quantizing pre-processor: zero input gradients are flagged, BPDA beats the full gradient, the sweep never reaches 0', () => {
  const quantize = (x: tf.Tensor4D): tf.Tensor4D => tf.tidy(() => tf.div(tf.round(tf.mul(x, 4)), 4));
  const card = sanityCard(withPreprocessor(quantize), split, options);
  assert.equal(status(card.checks, 'input-gradients'), 'warn');
  assert.equal(card.checks.find((c) => c.id === 'input-gradients')!.numbers.zeroFraction, 1);
  assert.equal(status(card.checks, 'bpda-vs-full'), 'warn');
  // With no gradient, PGD only has its random start: even eps = 0.5 leaves most points "robust".
  assert.equal(status(card.checks, 'eps-sweep-reaches-zero'), 'warn');
  assert.ok(card.attacks.bpda6! < card.attacks.pgd6!, `BPDA ${card.attacks.bpda6} below full-gradient PGD ${card.attacks.pgd6}`);
});

test('AutoAttack flags: probabilities instead of logits, and a randomized model', () => {
  const softmax: EvaluatedModel = { logits: (x) => tf.tidy(() => tf.softmax(classifier(x))), bpdaLogits: (x) => tf.tidy(() => tf.softmax(classifier(x))) };
  assert.equal(outputFlags(softmax, split, 10).probabilities, true);
  assert.equal(outputFlags({ logits: classifier, bpdaLogits: classifier }, split, 10).probabilities, false);
  let draw = 0;
  const noisy: LogitsFn = (x) => tf.tidy(() => tf.add(classifier(x), tf.randomNormal([x.shape[0], 10], 0, 1, 'float32', ++draw)));
  assert.equal(outputFlags({ logits: noisy, bpdaLogits: noisy }, split, 10).randomized, true);
  assert.equal(outputFlags({ logits: classifier, bpdaLogits: classifier }, split, 10).randomized, false);
});

test('judge: each rule warns on numbers built to trip it and passes on honest numbers', () => {
  const honest: SanityMeasurements = {
    n: 100, single: 0.5, pgdK: 0.3, pgd2K: 0.29, steps: 10, square: 0.4, bpda: 0.35,
    sweep: [{ eps: 0, robustAccuracy: 0.9 }, { eps: 0.03, robustAccuracy: 0.3 }, { eps: 0.5, robustAccuracy: 0 }],
    gradients: { zeroFraction: 0, nonFiniteFraction: 0, zeroElementFraction: 0.1 },
    flags: { randomized: false, probabilities: false, classes: 10 },
    tolerance: 0.02,
  };
  assert.deepEqual(judge(honest).filter((c) => c.status !== 'pass').map((c) => c.id), []);
  const trip: Array<[string, Partial<SanityMeasurements>]> = [
    ['more-iterations', { pgd2K: 0.4 }],
    ['iterative-vs-single', { single: 0.2 }],
    ['black-box-vs-white-box', { square: 0.1 }],
    ['bpda-vs-full', { bpda: 0.1 }],
    ['eps-sweep-monotone', { sweep: [{ eps: 0, robustAccuracy: 0.9 }, { eps: 0.03, robustAccuracy: 0.3 }, { eps: 0.06, robustAccuracy: 0.5 }, { eps: 0.5, robustAccuracy: 0 }] }],
    ['eps-sweep-reaches-zero', { sweep: [{ eps: 0, robustAccuracy: 0.9 }, { eps: 0.5, robustAccuracy: 0.2 }] }],
    ['input-gradients', { gradients: { zeroFraction: 0, nonFiniteFraction: 0.01, zeroElementFraction: 0 } }],
    ['aa-randomized', { flags: { randomized: true, probabilities: false, classes: 10 } }],
    ['aa-logits', { flags: { randomized: false, probabilities: true, classes: 10 } }],
    ['aa-classes', { flags: { randomized: false, probabilities: false, classes: 5 } }],
  ];
  for (const [id, change] of trip) {
    const warned = judge({ ...honest, ...change }).filter((c) => c.status === 'warn').map((c) => c.id);
    assert.deepEqual(warned, [id], `${id} alone should warn`);
  }
});
