/**
 * The contract every attack in attacks/ must keep checked on a small MLP trained
 * on Fashion-MNIST: outputs stay in the eps-ball and in [0,1], success is non-decreasing in eps, the
 * attack beats random sign noise of the same L∞ norm by a wide margin, results are deterministic given a
 * seed, and no tensor leaks.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type { Attack } from '../../src/attacks/types.js';
import { pgd, pgdDlr } from '../../src/attacks/pgd.js';
import { apgdCe, apgdT } from '../../src/attacks/apgd.js';
import { tiBim } from '../../src/attacks/tibim.js';
import { autoAttackCustom } from '../../src/attacks/autoattack.js';
import { fabT } from '../../src/attacks/fab.js';
import { square } from '../../src/attacks/square.js';
import { type TrainedModel, ballStats, fashionMissing, fashionSlice, randomSignNoiseSuccess, rate, trainFashionMlp } from './fixtures.js';

// Small budgets keep the file fast; the schedules themselves are the paper's.
const ATTACKS: Record<string, (eps: number) => Attack> = {
  'pgd-ce': (eps) => pgd({ eps, steps: 10, stepSize: eps / 4 }),
  'pgd-cw': (eps) => pgd({ eps, steps: 10, stepSize: eps / 4, loss: 'cw' }),
  'pgd-dlr': (eps) => pgdDlr({ eps, steps: 10, stepSize: eps / 4 }),
  'pgd-l2': (eps) => pgd({ norm: 'L2', eps: eps * 5, steps: 10, stepSize: eps * 1.25 }),
  'apgd-ce': (eps) => apgdCe({ eps, nIter: 10 }),
  'apgd-t': (eps) => apgdT({ eps, nIter: 10, nTargetClasses: 3 }),
  tibim: (eps) => tiBim({ eps, steps: 10, stepSize: eps / 4, kernelSize: 3 }),
  'fab-t': (eps) => fabT({ eps, nIter: 5, nTargetClasses: 2 }),
  square: (eps) => square({ eps, nQueries: 100 }),
  'aa-custom': (eps) => autoAttackCustom([{ attack: 'apgd-ce', options: { nIter: 5 } }, { attack: 'square', options: { nQueries: 50 } }], { eps }),
};

const N = 100;
let trained: TrainedModel | undefined;
let data: { x: tf.Tensor4D; y: tf.Tensor1D } | undefined;

before(async () => {
  await tf.setBackend('cpu');
  if (fashionMissing) return;
  trained = trainFashionMlp();
  data = fashionSlice(5000, N);
});

after(() => {
  trained?.dispose();
  if (data) tf.dispose([data.x, data.y]);
});

for (const [name, make] of Object.entries(ATTACKS)) {
  test(`${name}: output in the eps-ball and [0,1]; success non-decreasing in eps; beats random noise; deterministic; no leaks`, { skip: fashionMissing }, () => {
    const { model } = trained!;
    const { x, y } = data!;
    const epsList = [0.01, 0.03, 0.1];
    const rates: number[] = [];
    for (const eps of epsList) {
      const before = tf.memory().numTensors;
      const attack = make(eps);
      const result = attack.run(model, x, y, 5);
      assert.equal(tf.memory().numTensors, before + 1, `${name}: only xAdv may survive run()`);
      assert.deepEqual(result.xAdv.shape, x.shape);
      const s = ballStats(result.xAdv, x);
      const isL2 = name === 'pgd-l2';
      if (isL2) assert.ok(s.l2max <= eps * 5 + 1e-5, `${name}: L2 ${s.l2max} > ${eps * 5}`);
      else assert.ok(s.linf <= eps + 1e-6, `${name}: L∞ ${s.linf} > eps ${eps}`);
      assert.ok(s.min >= 0 && s.max <= 1, `${name}: outside [0,1]: [${s.min}, ${s.max}]`);
      // success must mean "misclassified", checked independently of the attack's own bookkeeping
      const wrong = tf.tidy(() => tf.notEqual(tf.argMax(model(result.xAdv), 1), y).dataSync());
      assert.deepEqual(result.success, Array.from(wrong, (v) => v !== 0), `${name}: success flags disagree with the model`);
      rates.push(rate(result.success));
      if (eps === 0.1) {
        const again = make(eps).run(model, x, y, 5);
        const same = tf.tidy(() => tf.max(tf.abs(tf.sub(again.xAdv, result.xAdv))).dataSync()[0]!);
        assert.equal(same, 0, `${name}: not deterministic given the seed`);
        tf.dispose(again.xAdv);
        // same norm: L∞ sign noise of size eps; for L2, sign noise of per-pixel size r/sqrt(d) has L2 norm r
        const noise = randomSignNoiseSuccess(model, x, y, isL2 ? (eps * 5) / Math.sqrt(x.size / x.shape[0]) : eps, 11);
        assert.ok(rate(result.success) >= noise + 0.25, `${name}: success ${rate(result.success)} vs noise ${noise}`);
      }
      result.xAdv.dispose();
    }
    for (let i = 1; i < rates.length; i++) {
      assert.ok(rates[i]! >= rates[i - 1]!, `${name}: success rate decreased with eps: ${rates.join(' -> ')}`);
    }
  });
}
