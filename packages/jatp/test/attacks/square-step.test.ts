// Square's proposal is one fused linfStep call on torch: it must give exactly the floats of the
// composition it replaced, projectLinf(best + step, x, eps), where every step entry is 0 or
// +-fround(2 eps) — on the cpu backend (linfStep's tfjs composition) and on torch (native kernel).
// Its accept step (squareAccept) against the rule written out in plain JS, torch against cpu.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { linfStep, squareAccept } from 'tfjs-backend-torch/fused';
import { projectLinf } from '../../src/attacks/ball-and-losses.js';
import { useTorchBackend } from '../torch-backend.js';

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
  if (!(await useTorchBackend())) {
    t.skip('torch addon not available');
    return;
  }
  compare('torch');
  await tf.setBackend('cpu');
});

/** squareAccept on fixed logits (ties, a point turning misclassified, a margin equal to the old one). */
function acceptOutcome(): { best: Float32Array; margin: Float32Array } {
  const m = 5;
  const logits = tf.tensor2d([2, 1, 0.5, 0.2, 0.9, 1.0, 3, 3, 1, -1, 0.1, 0.2, 0.7, 0.7, 0.7], [m, 3]);
  const y = tf.tensor1d([0, 1, 0, 2, 1], 'int32');
  const proposal = tf.tensor4d(Float32Array.from({ length: m * 4 }, (_, i) => i / 20), [m, 2, 2, 1]);
  const best = tf.tensor4d(Float32Array.from({ length: m * 4 }, (_, i) => 1 - i / 40), [m, 2, 2, 1]);
  const margin = tf.tensor1d([1.5, 0.1, 0.5, 0.3, 0]);
  const before = tf.memory().numTensors;
  const [b, mg] = squareAccept(logits, y, proposal, best, margin);
  assert.equal(tf.memory().numTensors, before + 2, 'squareAccept must return two new tensors only');
  const out = { best: Float32Array.from(b.dataSync()), margin: Float32Array.from(mg.dataSync()) };
  tf.dispose([logits, y, proposal, best, margin, b, mg]);
  return out;
}

function acceptRule(): { best: Float32Array; margin: Float32Array } {
  const z = [[2, 1, 0.5], [0.2, 0.9, 1.0], [3, 3, 1], [-1, 0.1, 0.2], [0.7, 0.7, 0.7]];
  const y = [0, 1, 0, 2, 1];
  const old = [1.5, 0.1, 0.5, 0.3, 0];
  const best = new Float32Array(20);
  const margin = new Float32Array(5);
  z.forEach((row, i) => {
    const other = Math.max(...row.map((v, k) => (k === y[i] ? -Infinity : Math.fround(v))));
    // -(max other - z_y), as the toolkit writes the margin (a tie gives -0).
    const nm = -Math.fround(other - Math.fround(row[y[i]!]!));
    const accept = nm < Math.fround(old[i]!) || nm <= 0;
    margin[i] = accept ? nm : old[i]!;
    for (let d = 0; d < 4; d++) best[i * 4 + d] = accept ? (i * 4 + d) / 20 : 1 - (i * 4 + d) / 40;
  });
  return { best, margin };
}

test('Square accept step: squareAccept on cpu follows the rule (margin z_y - max other, accept if lower or <= 0)', async () => {
  await tf.setBackend('cpu');
  const got = acceptOutcome();
  const want = acceptRule();
  assert.deepEqual(Array.from(got.margin), Array.from(want.margin));
  assert.deepEqual(Array.from(got.best), Array.from(want.best));
});

test('Square accept step: torch (one native kernel) gives the cpu bits (skipped without the addon)', async (t) => {
  await tf.setBackend('cpu');
  const cpu = acceptOutcome();
  if (!(await useTorchBackend())) {
    t.skip('torch addon not available');
    return;
  }
  const torch = acceptOutcome();
  assert.deepEqual(Array.from(new Uint32Array(torch.margin.buffer)), Array.from(new Uint32Array(cpu.margin.buffer)));
  assert.deepEqual(Array.from(new Uint32Array(torch.best.buffer)), Array.from(new Uint32Array(cpu.best.buffer)));
  await tf.setBackend('cpu');
});
