import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { gaussianKernel, tiBim, TIBIM_DEFAULTS } from '../../src/attacks/tibim.js';
import { pgd } from '../../src/attacks/pgd.js';
import { ensureGradients } from '../../src/attacks/ball-and-losses.js';

before(async () => {
  await tf.setBackend('cpu');
  ensureGradients();
});

test('TI kernel 15x15, nsig 3: sums to 1, symmetric, centre 0.02930, corner 3.6e-6 (spec §5c)', () => {
  const k = gaussianKernel(TIBIM_DEFAULTS.kernelSize, TIBIM_DEFAULTS.nsig);
  assert.equal(k.length, 225);
  const total = k.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(total - 1) < 1e-12, `sum ${total}`);
  for (let i = 0; i < 15; i++) {
    for (let j = 0; j < 15; j++) {
      assert.ok(Math.abs(k[i * 15 + j]! - k[j * 15 + i]!) < 1e-15);
      assert.ok(Math.abs(k[i * 15 + j]! - k[(14 - i) * 15 + (14 - j)]!) < 1e-15);
    }
  }
  assert.ok(Math.abs(k[7 * 15 + 7]! - 0.0293) < 5e-5, `centre ${k[7 * 15 + 7]}`);
  assert.ok(Math.abs(k[0]! - 3.6e-6) < 5e-8, `corner ${k[0]}`);
  assert.throws(() => gaussianKernel(4, 3), /odd/);
});

/** A linear 3-class model on 6x6x2 images with fixed weights. */
function linearModel(seed: number) {
  const w = tf.randomNormal([72, 3], 0, 1, 'float32', seed);
  return { w, model: (x: tf.Tensor4D) => tf.tidy(() => tf.matMul(tf.reshape(x, [x.shape[0], 72]), w) as tf.Tensor2D) };
}

test('TI-BIM with a 1x1 kernel is BIM (PGD without random start) step for step', () => {
  const { w, model } = linearModel(1);
  const x = tf.randomUniform([8, 6, 6, 2], 0, 1, 'float32', 2) as tf.Tensor4D;
  const y = tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1], 'int32');
  const ti = tiBim({ eps: 0.05, steps: 5, stepSize: 0.01, kernelSize: 1 }).run(model, x, y);
  const bim = pgd({ eps: 0.05, steps: 5, stepSize: 0.01, randomStart: false }).run(model, x, y);
  assert.deepEqual(Array.from(ti.xAdv.dataSync()), Array.from(bim.xAdv.dataSync()));
  tf.dispose([w, x, y, ti.xAdv, bim.xAdv]);
});

test('one TI-BIM step moves each pixel by the sign of the Gaussian-smoothed gradient (float64 reference)', () => {
  const { w, model } = linearModel(5);
  const x = tf.fill([1, 6, 6, 2], 0.5) as tf.Tensor4D; // interior, so no clipping
  const y = tf.tensor1d([1], 'int32');
  const eps = 0.02;
  const before = tf.memory().numTensors;
  const r = tiBim({ eps, steps: 1, stepSize: 0.01, kernelSize: 3, nsig: 1 }).run(model, x, y);
  assert.equal(tf.memory().numTensors, before + 1);
  // gradient of CE for a linear model: W (p - e_y), per pixel (h,w,c); smoothing in float64 by hand
  const wv = w.arraySync() as number[][];
  const logits = [0, 1, 2].map((k) => wv.reduce((s, row) => s + row[k]! * 0.5, 0));
  const m = Math.max(...logits);
  const e = logits.map((l) => Math.exp(l - m));
  const p = e.map((v) => v / e.reduce((a, b) => a + b, 0));
  const g = wv.map((row) => row.reduce((s, wk, k) => s + wk * (p[k]! - (k === 1 ? 1 : 0)), 0));
  const k1 = [-1, 0, 1].map((t) => Math.exp(-0.5 * t * t));
  const kernel = k1.flatMap((a) => k1.map((b) => a * b));
  const ksum = kernel.reduce((a, b) => a + b, 0);
  const out = r.xAdv.dataSync();
  for (let h = 0; h < 6; h++) {
    for (let c0 = 0; c0 < 6; c0++) {
      for (let ch = 0; ch < 2; ch++) {
        let s = 0;
        for (let dh = -1; dh <= 1; dh++) {
          for (let dw = -1; dw <= 1; dw++) {
            const hh = h + dh;
            const ww = c0 + dw;
            if (hh < 0 || hh >= 6 || ww < 0 || ww >= 6) continue;
            s += (kernel[(dh + 1) * 3 + (dw + 1)]! / ksum) * g[(hh * 6 + ww) * 2 + ch]!;
          }
        }
        const expected = 0.5 + 0.01 * Math.sign(s);
        assert.ok(Math.abs(out[(h * 6 + c0) * 2 + ch]! - expected) < 1e-6, `pixel ${h},${c0},${ch}`);
      }
    }
  }
  tf.dispose([w, x, y, r.xAdv]);
});
