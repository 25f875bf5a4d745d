import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { apgdCe, apgdCheckpoints, apgdT } from '../../src/attacks/apgd.js';
import { pgd } from '../../src/attacks/pgd.js';
import { type TrainedModel, accuracy, fashionMissing, fashionSlice, rate, trainFashionMlp } from './fixtures.js';

let trained: TrainedModel | undefined;
before(async () => {
  await tf.setBackend('cpu');
  if (!fashionMissing) trained = trainFashionMlp();
});
after(() => trained?.dispose());

test('APGD checkpoints for N=100 are the 0-based iterations 21, 40, 56, 69, 79, 86, 92, 98 (spec §5c)', () => {
  assert.deepEqual(apgdCheckpoints(100), [21, 40, 56, 69, 79, 86, 92, 98]);
  // Independent restatement of the reference rule for another N: first check after max(floor(.22N),1)
  // iterations, then intervals max(k - max(floor(.03N),1), max(floor(.06N),1)).
  const n = 37;
  const expected: number[] = [];
  let k = Math.max(Math.floor(0.22 * n), 1);
  let counter = 0;
  for (let i = 0; i < n; i++) {
    counter += 1;
    if (counter === k) {
      expected.push(i);
      k = Math.max(k - Math.max(Math.floor(0.03 * n), 1), Math.max(Math.floor(0.06 * n), 1));
      counter = 0;
    }
  }
  assert.deepEqual(apgdCheckpoints(n), expected);
});

test('APGD returns the clean input for points it does not fool and for points misclassified at the start', () => {
  // A 4-class linear model on 2x2x1 images whose decision hardly moves inside a tiny ball.
  const w = tf.tensor2d([[4, -4, 0, 1], [4, 0, -4, 1], [-4, 4, 0, 1], [-4, 0, 4, 1]]);
  const model = (x: tf.Tensor4D) => tf.tidy(() => tf.matMul(tf.reshape(x, [x.shape[0], 4]), w) as tf.Tensor2D);
  const x = tf.tensor4d([0.9, 0.9, 0.1, 0.1, 0.1, 0.1, 0.9, 0.9], [2, 2, 2, 1]);
  const labels = tf.tidy(() => tf.argMax(model(x), 1).dataSync());
  // first example labelled correctly, second deliberately wrong
  const y = tf.tensor1d([labels[0]!, (labels[1]! + 1) % 4], 'int32');
  for (const attack of [apgdCe({ eps: 0.001, nIter: 10 }), apgdT({ eps: 0.001, nIter: 10 })]) {
    const before = tf.memory().numTensors;
    const r = attack.run(model, x, y, 0);
    assert.deepEqual(r.success, [false, true]);
    assert.deepEqual(Array.from(r.xAdv.dataSync()), Array.from(x.dataSync()));
    r.xAdv.dispose();
    assert.equal(tf.memory().numTensors, before, 'leaked tensors');
  }
  tf.dispose([w, x, y]);
});

test('APGD-T with 9 targets on a 4-class model caps the targets at 3 and still fools it', () => {
  const w = tf.tensor2d([[1, 0.5, 0.2, 0], [0, 0.5, 0.2, 1], [0.3, 0.1, 0.9, 0.2], [0.2, 0.9, 0.1, 0.3]]);
  const model = (x: tf.Tensor4D) => tf.tidy(() => tf.matMul(tf.reshape(x, [x.shape[0], 4]), w) as tf.Tensor2D);
  const x = tf.randomUniform([16, 2, 2, 1], 0, 1, 'float32', 3) as tf.Tensor4D;
  const y = tf.tidy(() => tf.cast(tf.argMax(model(x), 1), 'int32') as tf.Tensor1D);
  const r = apgdT({ eps: 0.5, nIter: 10 }).run(model, x, y, 0);
  assert.ok(rate(r.success) > 0.9, `APGD-T fooled only ${rate(r.success)}`);
  tf.dispose([w, x, y, r.xAdv]);
});

test('on a trained MLP, APGD-CE reaches robust accuracy <= PGD with the same budget (AutoAttack paper)', { skip: fashionMissing }, (t) => {
  const { model } = trained!;
  const { x, y } = fashionSlice(6000, 300);
  const rows: string[] = [];
  for (const eps of [0.02, 0.04]) {
    const iters = 20;
    const p = pgd({ eps, steps: iters, stepSize: eps / 4 }).run(model, x, y, 1);
    const a = apgdCe({ eps, nIter: iters }).run(model, x, y, 1);
    const pgdAcc = accuracy(model, p.xAdv, y);
    const apgdAcc = accuracy(model, a.xAdv, y);
    rows.push(`eps ${eps}: clean ${accuracy(model, x, y).toFixed(3)} PGD-${iters} ${pgdAcc.toFixed(3)} APGD-CE-${iters} ${apgdAcc.toFixed(3)}`);
    assert.ok(apgdAcc <= pgdAcc, `eps ${eps}: APGD-CE robust accuracy ${apgdAcc} > PGD ${pgdAcc}`);
    tf.dispose([p.xAdv, a.xAdv]);
  }
  t.diagnostic(rows.join('; '));
  tf.dispose([x, y]);
});
