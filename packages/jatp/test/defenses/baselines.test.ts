import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { buildNetwork, buildClassifier } from '../../src/models/architectures.js';
import type { Network } from '../../src/models/types.js';
import { ApegRecipe } from '../../src/defenses/apeg.js';
import { HgdRecipe } from '../../src/defenses/hgd.js';
import { NrpRecipe } from '../../src/defenses/nrp.js';
import { obliviousExamples, pairedSplit, OBLIVIOUS_PGD_DEFAULTS, SSP_DEFAULTS } from '../../src/defenses/example-cache.js';
import { ensureGradients } from '../../src/gradients.js';

before(async () => {
  await tf.setBackend('cpu');
  ensureGradients();
});

const SIZE = 16;

function target(seed: number, size = SIZE) {
  return buildClassifier('small-cnn', { width: 4, inputSize: size, numClasses: 3, seed });
}

/** A paired batch [natural | adversarial] along channels, as the loop hands out for oblivious examples. */
function pairedBatch(seed: number, n = 4): { x: tf.Tensor4D; y: tf.Tensor1D } {
  return tf.tidy(() => {
    const nat = tf.randomUniform([n, SIZE, SIZE, 3], 0, 1, 'float32', seed);
    const adv = tf.clipByValue(tf.add(nat, tf.randomUniform([n, SIZE, SIZE, 3], -0.03, 0.03, 'float32', seed + 1)), 0, 1);
    return { x: tf.concat([nat, adv], 3) as tf.Tensor4D, y: tf.tensor1d(Array.from({ length: n }, (_, i) => i % 3), 'int32') };
  });
}

function snapshot(net: Network): Map<string, Float32Array> {
  return new Map([...net.namedWeights()].map(([k, v]) => [k, Float32Array.from(v.dataSync() as Float32Array)]));
}
function changedCount(before: Map<string, Float32Array>, net: Network, onlyTrainable = false): number {
  const trainable = new Set(net.trainableVariables().map((v) => v.name));
  let n = 0;
  for (const [name, v] of net.namedWeights()) {
    if (onlyTrainable && !trainable.has(v.name)) continue;
    if (v.dataSync().some((value, i) => value !== before.get(name)![i])) n++;
  }
  return n;
}

test('APE-G step: D step then two G steps update both networks; target untouched; no tensor leak', () => {
  const t = target(1);
  const g = buildNetwork('apeg-generator', { inputSize: SIZE, seed: 2 });
  const d = buildNetwork('apeg-discriminator', { inputSize: SIZE, seed: 3 });
  const recipe = new ApegRecipe(g, d, t);
  const [tb, gb, db] = [snapshot(t), snapshot(g), snapshot(d)];
  // Plain SGD keeps no slots, so one step (the slow part: conv-transpose gradients on the cpu
  // backend) is enough to check for leaks.
  const opts = { generator: tf.train.sgd(0.01), discriminator: tf.train.sgd(0.01) };
  const batch = pairedBatch(10, 2);
  const count = tf.memory().numTensors;
  const m = recipe.step(batch, opts, 2);
  assert.equal(tf.memory().numTensors, count, 'tensor count stable');
  for (const k of ['loss', 'lossD', 'lossG', 'mse', 'lossGAdv']) assert.ok(Number.isFinite(m[k]), k);
  assert.equal(changedCount(tb, t), 0, 'target unchanged');
  assert.equal(changedCount(gb, g, true), g.trainableVariables().length, 'every generator variable moved');
  assert.equal(changedCount(db, d, true), d.trainableVariables().length, 'every discriminator variable moved');
  const keys = [...recipe.stateTensors().keys()];
  assert.ok(keys.some((k) => k.startsWith('purifier/')) && keys.some((k) => k.startsWith('discriminator/')));
  tf.dispose([batch.x, batch.y]);
  [t, g, d].forEach((n) => n.dispose());
});

test('HGD step (logits-guided) trains only the denoiser; feature-guided and full-example modes run too', () => {
  const t = target(4);
  const den = buildNetwork('hgd', { inputSize: SIZE, widthScale: 0.0625, seed: 5 });
  const [tb, db] = [snapshot(t), snapshot(den)];
  const batch = pairedBatch(20);
  const opt = tf.train.adam(1e-3);
  const m = new HgdRecipe(den, t).step(batch, { main: opt }, 1);
  assert.ok(Number.isFinite(m['loss']) && m['loss']! > 0);
  assert.equal(changedCount(tb, t), 0, 'target unchanged');
  assert.equal(changedCount(db, den, true), den.trainableVariables().length, 'every denoiser variable moved');
  // FGD on the target's 'block3' feature map.
  const fgd = new HgdRecipe(den, t, { guidance: 'features', guidanceFeature: 'block3' }).step(batch, { main: opt }, 2);
  assert.ok(Number.isFinite(fgd['loss']));
  assert.throws(() => new HgdRecipe(den, t, { guidance: 'features', guidanceFeature: 'layer4' }), /layer4.*expected one of/);
  // Full examples (spec §4.4): plain batches, PGD through the current denoiser.
  const natural = tf.tidy(() => tf.split(batch.x, 2, 3)[0] as tf.Tensor4D);
  const before = tf.memory().numTensors;
  const full = new HgdRecipe(den, t, { examples: 'full', pgd: { eps: 8 / 255, steps: 2, stepSize: 0.007, randomStart: true } })
    .step({ x: natural, y: batch.y }, { main: opt }, 3);
  assert.ok(Number.isFinite(full['loss']));
  assert.equal(tf.memory().numTensors, before, 'no leak in full mode');
  assert.throws(() => new HgdRecipe(den, t).step({ x: natural, y: batch.y }, { main: opt }, 4), /paired batch/);
  tf.dispose([batch.x, batch.y, natural]);
  t.dispose();
  den.dispose();
});

test('NRP step: purifier and discriminator both move; target untouched', () => {
  const t = target(6);
  const p = buildNetwork('nrp', { nf: 4, gc: 2, nb: 1, inputSize: SIZE, seed: 7 });
  const d = buildNetwork('nrp-discriminator', { numFeat: 4, inputSize: SIZE, seed: 8 });
  const recipe = new NrpRecipe(p, d, t);
  const [tb, pb, db] = [snapshot(t), snapshot(p), snapshot(d)];
  const opts = { generator: tf.train.adam(1e-3), discriminator: tf.train.adam(1e-3) };
  const batch = pairedBatch(30);
  recipe.step(batch, opts, 1);
  const count = tf.memory().numTensors;
  const m = recipe.step(batch, opts, 2);
  assert.equal(tf.memory().numTensors, count, 'tensor count stable');
  for (const k of ['loss', 'lossD', 'pixel', 'feature', 'lossGAdv']) assert.ok(Number.isFinite(m[k]), k);
  assert.equal(changedCount(tb, t), 0);
  assert.equal(changedCount(pb, p, true), p.trainableVariables().length);
  // The relativistic losses use D(x) - mean D(x^): D's final bias cancels and gets no gradient.
  assert.equal(changedCount(db, d, true), d.trainableVariables().length - 1);
  tf.dispose([batch.x, batch.y]);
  [t, p, d].forEach((n) => n.dispose());
});

test('oblivious example cache: examples lie in the eps ball, are reused from disk, and the key follows target, settings and data', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jatp-cache-'));
  try {
    const size = 8;
    const t = target(9, size);
    const count = 5;
    const images = Uint8Array.from({ length: count * size * size * 3 }, (_, i) => (i * 37) % 256);
    const split = { images, labels: Int32Array.from([0, 1, 2, 0, 1]), count };
    const shape: [number, number, number] = [size, size, 3];
    const spec = { ...OBLIVIOUS_PGD_DEFAULTS, steps: 3 };
    const a = obliviousExamples(t, split, shape, spec, { cacheDir: dir, batchSize: 2 });
    assert.equal(a.fromCache, false);
    assert.ok(fs.existsSync(a.file) && fs.existsSync(a.file.replace(/\.u8$/, '.json')));
    let moved = 0;
    for (let i = 0; i < images.length; i++) {
      const diff = Math.abs(a.images[i]! - images[i]!);
      assert.ok(diff <= 8, `pixel ${i} moved ${diff}/255 > eps`);
      if (diff > 0) moved++;
    }
    assert.ok(moved > images.length / 2, 'the attack perturbs most pixels');
    const b = obliviousExamples(t, split, shape, spec, { cacheDir: dir, batchSize: 2 });
    assert.equal(b.fromCache, true);
    assert.deepEqual(Buffer.from(b.images), Buffer.from(a.images));
    const otherSpec = obliviousExamples(t, split, shape, { ...spec, steps: 2 }, { cacheDir: dir });
    assert.notEqual(otherSpec.key, a.key);
    const otherData = obliviousExamples(t, { ...split, labels: Int32Array.from([1, 1, 2, 0, 1]) }, shape, spec, { cacheDir: dir });
    assert.notEqual(otherData.key, a.key);
    const ssp = obliviousExamples(t, split, shape, { ...SSP_DEFAULTS, steps: 2 }, { cacheDir: dir });
    assert.notEqual(ssp.key, a.key);
    const v = t.trainableVariables()[0]!;
    v.assign(tf.tidy(() => tf.add(v, 1e-3)));
    assert.notEqual(obliviousExamples(t, split, shape, spec, { cacheDir: dir, batchSize: 2 }).key, a.key, 'target change -> new key');

    const paired = pairedSplit(split, a.images, shape);
    assert.deepEqual(paired.imageShape, [size, size, 6]);
    // Pixel 7 of image 3: natural channels then adversarial channels.
    const p = 3 * size * size + 7;
    assert.deepEqual([...paired.split.images.subarray(p * 6, p * 6 + 6)], [...images.subarray(p * 3, p * 3 + 3), ...a.images.subarray(p * 3, p * 3 + 3)]);
    t.dispose();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
