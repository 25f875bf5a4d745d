import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type { Split } from '../../src/data/types.js';
import type { Attack } from '../../src/attacks/types.js';
import type { LogitsFn } from '../../src/models/types.js';
import { parseAttackSpec } from '../../src/attacks/attack-specs.js';
import { evaluate, type EvaluatedModel } from '../../src/evaluation/evaluate.js';
import { barChartSvg, markdownTable, parseRowArgs } from '../../src/evaluation/comparison.js';
import { readEvalJson, type EvalJson } from '../../src/evaluation/eval-json.js';
import { resolveWeightsFile } from '../../src/models/weights.js';
import { ensureGradients } from '../../src/gradients.js';

await tf.setBackend('cpu');
ensureGradients();

const SIDE = 4;
const CLASSES = 3;

/** 30 random 4x4x1 images with labels 0..2 (seeded LCG: no Math.random). */
function makeSplit(count = 30): Split {
  let s = 12345;
  const next = (): number => ((s = (s * 1103515245 + 12345) % 2 ** 31), s / 2 ** 31);
  const images = new Uint8Array(count * SIDE * SIDE);
  for (let i = 0; i < images.length; i++) images[i] = Math.floor(next() * 256);
  const labels = new Int32Array(count).map((_, i) => i % CLASSES);
  return { images, labels, count, imageShape: [SIDE, SIDE, 1] };
}

/** Linear classifier on the flattened pixels with fixed weights. */
function linearModel(): LogitsFn {
  const w = tf.tensor2d(Array.from({ length: SIDE * SIDE * CLASSES }, (_, i) => Math.sin(i + 1)), [SIDE * SIDE, CLASSES]);
  return (x) => tf.tidy(() => tf.matMul(tf.reshape(x, [x.shape[0], SIDE * SIDE]), w));
}

/** Float64 predictions of the same model, computed without tfjs. */
function predict64(pixels: ArrayLike<number>): number {
  const scores = Array.from({ length: CLASSES }, (_, k) => {
    let acc = 0;
    for (let p = 0; p < SIDE * SIDE; p++) acc += pixels[p]! * Math.sin(p * CLASSES + k + 1);
    return acc;
  });
  return scores.indexOf(Math.max(...scores));
}

/** An "attack" that replaces every image with a constant one: its outcome is computable by hand. */
function constantImageAttack(value: number, seen: LogitsFn[]): Attack {
  return {
    name: 'constant',
    run(model, x) {
      seen.push(model);
      return { xAdv: tf.fill(x.shape, value) as tf.Tensor4D, success: [] };
    },
  };
}

test('evaluate: clean/robust accuracy and Fig. 2b L1 distances equal a float64 recomputation', () => {
  const split = makeSplit();
  const logits = linearModel();
  const model: EvaluatedModel = { logits, bpdaLogits: logits, preprocess: (x) => tf.tidy(() => tf.fill(x.shape, 0.5) as tf.Tensor4D) };
  const before = tf.memory().numTensors;
  const seen: LogitsFn[] = [];
  const report = evaluate(model, split, {
    attacks: [parseAttackSpec('pgd5')],
    eps: 0.1,
    norm: 'Linf',
    batchSize: 7, // uneven batches on purpose
    seed: 0,
    build: () => constantImageAttack(0.8, seen),
  });
  assert.equal(tf.memory().numTensors, before, 'evaluate leaks tensors');

  const per = SIDE * SIDE;
  let cleanCorrect = 0;
  let l1Adv = 0;
  let l1Purified = 0;
  const constantPrediction = predict64(new Array(per).fill(0.8));
  const expectedRobust: boolean[] = [];
  for (let i = 0; i < split.count; i++) {
    const pixels = Array.from(split.images.subarray(i * per, (i + 1) * per), (v) => v / 255);
    const correct = predict64(pixels) === split.labels[i];
    if (correct) cleanCorrect++;
    expectedRobust.push(correct && constantPrediction === split.labels[i]);
    for (const p of pixels) {
      l1Adv += Math.abs(0.8 - p);
      l1Purified += Math.abs(0.5 - p);
    }
  }
  assert.equal(report.cleanAccuracy, cleanCorrect / split.count);
  assert.deepEqual(report.attacks[0]!.robust, expectedRobust);
  assert.equal(report.attacks[0]!.robustAccuracy, expectedRobust.filter(Boolean).length / split.count);
  assert.ok(Math.abs(report.attacks[0]!.meanL1AdvVsNatural - (255 * l1Adv) / (split.count * per)) < 1e-3);
  assert.ok(Math.abs(report.attacks[0]!.meanL1PurifiedVsNatural! - (255 * l1Purified) / (split.count * per)) < 1e-3);
  assert.equal(seen.length, Math.ceil(split.count / 7), 'one attack call per batch');
});

test('evaluate: the attacked-only L1 (Fig. 2b) ignores points the attack returned unchanged', () => {
  const split = makeSplit(10);
  const logits = linearModel();
  const model: EvaluatedModel = { logits, bpdaLogits: logits, preprocess: (x) => tf.tidy(() => tf.fill(x.shape, 0.5) as tf.Tensor4D) };
  // Like AutoAttack on already-misclassified points: every other image comes back untouched.
  const halfAttack: Attack = {
    name: 'half',
    run(_model, x) {
      const xAdv = tf.tidy(() => {
        const keep = tf.reshape(tf.tensor1d(Array.from({ length: x.shape[0] }, (_, i) => (i % 2 === 0 ? 1 : 0))), [x.shape[0], 1, 1, 1]);
        return tf.add(tf.mul(x, keep), tf.mul(tf.fill(x.shape, 0.8), tf.sub(1, keep))) as tf.Tensor4D;
      });
      return { xAdv, success: [] };
    },
  };
  const report = evaluate(model, split, { attacks: [parseAttackSpec('pgd5')], eps: 0.1, norm: 'Linf', batchSize: 4, seed: 0, build: () => halfAttack });
  const per = SIDE * SIDE;
  let adv = 0;
  let purified = 0;
  let attacked = 0;
  for (let i = 0; i < split.count; i++) {
    // Batches of 4 restart the even/odd pattern: index within the batch decides.
    if ((i % 4) % 2 === 0) continue;
    attacked++;
    for (const v of split.images.subarray(i * per, (i + 1) * per)) {
      adv += Math.abs(0.8 - v / 255);
      purified += Math.abs(0.5 - v / 255);
    }
  }
  const a = report.attacks[0]!;
  assert.equal(a.attackedCount, attacked);
  assert.ok(Math.abs(a.meanL1AdvVsNaturalAttacked! - (255 * adv) / (attacked * per)) < 1e-3);
  assert.ok(Math.abs(a.meanL1PurifiedVsNaturalAttacked! - (255 * purified) / (attacked * per)) < 1e-3);
  assert.ok(a.meanL1AdvVsNatural < a.meanL1AdvVsNaturalAttacked!, 'the all-points mean is diluted by untouched points');
});

test('evaluate: a bpda attack gets the BPDA logits, the others the exact ones; scoring always uses the exact model', () => {
  const split = makeSplit(9);
  const exact = linearModel();
  // A "BPDA model" that is wrong on purpose: if it were used for scoring the accuracies would differ.
  const bpda: LogitsFn = (x) => tf.tidy(() => tf.neg(exact(x)));
  const seen: LogitsFn[] = [];
  const report = evaluate({ logits: exact, bpdaLogits: bpda }, split, {
    attacks: [parseAttackSpec('bpda'), parseAttackSpec('pgd3')],
    eps: 0.1,
    norm: 'Linf',
    batchSize: 100,
    seed: 0,
    build: () => constantImageAttack(0.3, seen),
  });
  // The harness wraps the models (to count forward passes): compare what they compute.
  const probe = tf.fill([1, SIDE, SIDE, 1], 0.3) as tf.Tensor4D;
  const outputs = tf.tidy(() => [seen[0]!(probe), seen[1]!(probe), bpda(probe), exact(probe)].map((t) => Array.from(t.dataSync())));
  assert.deepEqual(outputs[0], outputs[2]);
  assert.deepEqual(outputs[1], outputs[3]);
  assert.notDeepEqual(outputs[0], outputs[1]);
  probe.dispose();
  assert.deepEqual(report.attacks[0]!.robust, report.attacks[1]!.robust);
  assert.equal(report.attacks[0]!.bpda, true);
  assert.equal(report.attacks[0]!.meanL1PurifiedVsNatural, undefined);
});

test('evaluate with a real PGD: robust implies clean-correct, accuracy never above clean', () => {
  const split = makeSplit(24);
  const logits = linearModel();
  const report = evaluate({ logits, bpdaLogits: logits }, split, {
    attacks: [parseAttackSpec('pgd10')],
    eps: 0.3,
    norm: 'Linf',
    batchSize: 12,
    seed: 1,
  });
  const a = report.attacks[0]!;
  a.robust.forEach((r, i) => assert.ok(!r || report.clean[i], `example ${i} robust but misclassified when clean`));
  assert.ok(a.robustAccuracy < report.cleanAccuracy, `PGD eps 0.3 should fool some of a linear model (clean ${report.cleanAccuracy}, robust ${a.robustAccuracy})`);
  assert.ok(a.meanL1AdvVsNatural <= 0.3 * 255 + 1e-3);
});

function fakeReport(clean: number, attacks: Record<string, number>): EvalJson {
  return {
    model: 'm',
    dataset: 'fashion-mnist',
    backend: 'cpu',
    n: 100,
    eps: 0.1,
    norm: 'Linf',
    cleanAccuracy: clean,
    clean: [],
    labels: [],
    unionRobustAccuracy: Math.min(clean, ...Object.values(attacks)),
    randomized: false,
    decisionPasses: 1,
    eotDraws: 1,
    forwardPasses: 0,
    attacks: Object.entries(attacks).map(([attack, robustAccuracy]) => ({ attack, bpda: false, robustAccuracy, robust: [], meanL1AdvVsNatural: 1, seconds: 0 })),
  };
}

test('report: table has the union of attack columns in first-seen order, percentages with 2 decimals, – for missing', () => {
  const table = markdownTable([
    { label: 'None', result: fakeReport(0.8, { pgd40: 0.45, 'apgd-ce': 0.4 }) },
    { label: 'JATP', result: fakeReport(0.79, { pgd40: 0.5, bpda: 0.6 }) },
  ]);
  const lines = table.split('\n');
  assert.equal(lines[0], '| Defense | Natural | pgd40 | apgd-ce | bpda |');
  assert.equal(lines[2], '| None | 80.00 | 45.00 | 40.00 | – |');
  assert.equal(lines[3], '| JATP | 79.00 | 50.00 | – | 60.00 |');
  const svg = barChartSvg([{ label: 'None', result: fakeReport(0.5, { pgd40: 0.25 }) }], 'T & <x>');
  assert.match(svg, /^<svg/);
  assert.match(svg, /T &amp; &lt;x&gt;/);
  assert.equal((svg.match(/<rect x=/g) ?? []).length, 2 + 1, 'two bars + one legend swatch');
});

test('report inputs: LABEL=file parsing and a clear error for a non-eval JSON', () => {
  assert.deepEqual(parseRowArgs(['JATP=a/b.json', 'c/none.json']), [
    { label: 'JATP', file: 'a/b.json' },
    { label: 'none', file: 'c/none.json' },
  ]);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jatp-report-'));
  const bad = path.join(dir, 'bad.json');
  fs.writeFileSync(bad, '{"hello": 1}');
  assert.throws(() => readEvalJson(bad), /bad\.json: not a 'jatp eval --json' report/);
  fs.rmSync(dir, { recursive: true });
});

test('resolveWeightsFile: finds last/model.safetensors in a run folder, errors name the flag', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jatp-run-'));
  assert.throws(() => resolveWeightsFile(path.join(dir, 'nope'), '--model'), /--model: .*does not exist/);
  assert.throws(() => resolveWeightsFile(dir, '--preprocessor'), /--preprocessor: no network in run folder/);
  fs.mkdirSync(path.join(dir, 'last'));
  fs.writeFileSync(path.join(dir, 'last', 'model.safetensors'), '');
  assert.equal(resolveWeightsFile(dir, '--model'), path.join(dir, 'last', 'model.safetensors'));
  fs.writeFileSync(path.join(dir, 'last', 'model.json'), JSON.stringify({ weights: 'model.safetensors', arch: 'small-cnn' }));
  assert.equal(resolveWeightsFile(path.join(dir, 'last', 'model.json'), '--model'), path.join(dir, 'last', 'model.safetensors'));
  fs.rmSync(dir, { recursive: true });
});

test('evaluate: AutoAttack-style stage reports are summed over batches into accuracies over all points', () => {
  const split = makeSplit(10);
  const logits = linearModel();
  // Batch b reports stage accuracies as fractions of its own 5 points (k / 5, as a real stage would).
  const fractions = [
    [0.8, 0.6],
    [0.4, 0.2],
  ];
  let call = 0;
  const staged: Attack = {
    name: 'staged',
    run(_model, x) {
      const f = fractions[call++]!;
      return {
        xAdv: tf.clone(x),
        success: [],
        stages: [
          { name: 'apgd-ce', robustAccuracy: f[0]!, newlyFooled: 0, skipped: false, seconds: 0 },
          { name: 'apgd-t', robustAccuracy: f[1]!, newlyFooled: 0, skipped: false, seconds: 0 },
        ],
      } as ReturnType<Attack['run']>;
    },
  };
  const report = evaluate({ logits, bpdaLogits: logits }, split, {
    attacks: [parseAttackSpec('aa')],
    eps: 0.1,
    norm: 'Linf',
    batchSize: 5,
    seed: 0,
    build: () => staged,
  });
  // (0.8*5 + 0.4*5) / 10 and (0.6*5 + 0.2*5) / 10
  assert.deepEqual(report.attacks[0]!.stages, [
    { name: 'apgd-ce', robustAccuracy: 0.6 },
    { name: 'apgd-t', robustAccuracy: 0.4 },
  ]);
});

test('evaluate with statePath: a finished state is reused, one from another model or data is refused naming the change', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jatp-state-'));
  const statePath = path.join(dir, 'state.json');
  const split = makeSplit(12);
  const logits = linearModel();
  let calls = 0;
  const build = (): Attack => {
    const inner = constantImageAttack(0.4, []);
    return { name: 'counted', run: (m, x, y) => (calls++, inner.run(m, x, y)) };
  };
  const options = { attacks: [parseAttackSpec('pgd5')], eps: 0.1, norm: 'Linf' as const, batchSize: 5, seed: 0, build, statePath, identity: { model: 'linear a' } };
  const first = evaluate({ logits, bpdaLogits: logits }, split, options);
  assert.equal(calls, 3);
  const second = evaluate({ logits, bpdaLogits: logits }, split, options);
  assert.equal(calls, 3, 'nothing recomputed from a finished state');
  assert.deepEqual(second, first);
  assert.throws(() => evaluate({ logits, bpdaLogits: logits }, split, { ...options, identity: { model: 'linear b' } }), /changed: model \('linear a' -> 'linear b'\)/);
  assert.throws(() => evaluate({ logits, bpdaLogits: logits }, makeSplit(11), options), /changed: data \(test images\/labels\).*n \(12 -> 11\)/);
  fs.writeFileSync(statePath, '{"truncated": ');
  assert.throws(() => evaluate({ logits, bpdaLogits: logits }, split, options), /state file '.*state\.json': not a readable JSON file/);
  fs.rmSync(dir, { recursive: true });
});
