// Square's proposal is one fused linfStep call on torch: it must give exactly the floats of the
// composition it replaced, projectLinf(best + step, x, eps), where every step entry is 0 or
// +-fround(2 eps) — on the cpu backend (linfStep's tfjs composition) and on torch (native kernel).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { linfStep } from 'tfjs-backend-torch/fused';
import { projectLinf } from '../../src/attacks/common.js';

async function torchAvailable(): Promise<boolean> {
  try {
    await import('tfjs-backend-torch');
    return await tf.setBackend('torch');
  } catch {
    return false;
  }
}

function compare(backend: string): void {
  for (const eps of [0.1, 8 / 255, 0.3]) {
    const shape: [number, number, number, number] = [5, 7, 6, 3];
    const n = shape.reduce((a, b) => a * b);
    const stepSize = Math.fround(2 * eps);
    let s = 12345;
    const rand = (): number => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const x = Float32Array.from({ length: n }, rand);
    const best = Float32Array.from(x, (v) => Math.min(1, Math.max(0, v + (2 * rand() - 1) * eps)));
    const step = Float32Array.from({ length: n }, () => { const r = rand(); return r < 0.4 ? 0 : r < 0.7 ? stepSize : -stepSize; });
    const [xt, bt, st] = [tf.tensor4d(x, shape), tf.tensor4d(best, shape), tf.tensor4d(step, shape)];
    const before = tf.memory().numTensors;
    const fused = linfStep(bt, st, xt, stepSize, eps, 0, 1);
    const composed = tf.tidy(() => projectLinf(tf.add(bt, st) as tf.Tensor4D, xt, eps));
    const a = new Uint32Array(Float32Array.from(fused.dataSync()).buffer);
    const b = new Uint32Array(Float32Array.from(composed.dataSync()).buffer);
    tf.dispose([fused, composed]);
    assert.equal(tf.memory().numTensors, before, `${backend}: leaked tensors`);
    let diff = 0;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) diff++;
    assert.equal(diff, 0, `${backend}, eps ${eps}: ${diff} of ${n} values differ`);
    tf.dispose([xt, bt, st]);
  }
}

test('Square proposal: linfStep(best, step, x, 2 eps, eps) = projectLinf(best + step) bit for bit on cpu', async () => {
  await tf.setBackend('cpu');
  compare('cpu');
});

test('Square proposal: the same on the torch engine (skipped without the addon)', async (t) => {
  if (!(await torchAvailable())) {
    t.skip('torch addon not available');
    return;
  }
  compare('torch');
  await tf.setBackend('cpu');
});
