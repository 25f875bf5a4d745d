// APGD's per-iteration bookkeeping (apgdTrack: one native kernel on torch, tfjs ops elsewhere)
// against a plain-JS restatement of the rule, and torch against cpu bit for bit; ties and NaN
// logits included (tfjs's argMax: the first maximum, a NaN never wins unless it is the first).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { apgdTrack } from 'tfjs-backend-torch/fused';

const N = 7, D = 6, K = 4;
let seed = 99;
const rand = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
const fl = (n: number) => Float32Array.from({ length: n }, () => Math.fround(rand()));
const inputs = {
  xCur: fl(N * D), grad: fl(N * D), xBestAdv: fl(N * D), xBest: fl(N * D), gradBest: fl(N * D),
  loss: Float32Array.from([0.5, 0.2, NaN, 0.9, 0.1, 0.3, 0.7]),
  lossPrev: Float32Array.from([0.4, 0.2, 0.1, NaN, 0.2, 0.1, 0.8]),
  lossBest: Float32Array.from([0.6, 0.1, 0.3, 0.2, NaN, 0.3, 0.5]),
  increases: Float32Array.from([0, 1, 2, 3, 0, 1, 5]),
  robust: [true, true, false, true, true, false, true],
  // Row 1: a tie (first wins); row 2: NaN first (index 0 wins); row 3: NaN elsewhere (never wins).
  logits: Float32Array.from([0.1, 0.9, 0.3, 0.2, 0.7, 0.7, 0.1, 0.0, NaN, 0.5, 0.9, 0.1, 0.2, NaN, 0.8, 0.1,
    0.3, 0.2, 0.1, 0.0, 0.0, 0.1, 0.2, 0.3, 0.5, 0.5, 0.5, 0.5]),
  y: Int32Array.from([1, 0, 0, 2, 1, 3, 0]),
};

function runTrack(): Record<string, Float32Array | Uint8Array> {
  const x4 = (v: Float32Array) => tf.tensor4d(v, [N, 1, D, 1]);
  const t = {
    xCur: x4(inputs.xCur), grad: x4(inputs.grad), loss: tf.tensor1d(inputs.loss), lossPrev: tf.tensor1d(inputs.lossPrev),
    logits: tf.tensor2d(inputs.logits, [N, K]), y: tf.tensor1d(inputs.y, 'int32'),
    s: { xBestAdv: x4(inputs.xBestAdv), robust: tf.tensor1d(inputs.robust, 'bool'), increases: tf.tensor1d(inputs.increases),
      xBest: x4(inputs.xBest), gradBest: x4(inputs.gradBest), lossBest: tf.tensor1d(inputs.lossBest) },
  };
  const before = tf.memory().numTensors;
  const r = apgdTrack(t.xCur, t.grad, t.loss, t.lossPrev, t.logits, t.y, t.s);
  assert.equal(tf.memory().numTensors, before + 6, 'apgdTrack must return six new tensors and keep nothing else');
  const out: Record<string, Float32Array | Uint8Array> = {};
  for (const [k, v] of Object.entries(r)) out[k] = v.dtype === 'bool' ? Uint8Array.from(v.dataSync()) : Float32Array.from(v.dataSync());
  tf.dispose([t.xCur, t.grad, t.loss, t.lossPrev, t.logits, t.y, ...Object.values(t.s), ...Object.values(r)]);
  return out;
}

/** The rule, written out per example in plain JS. */
function expected(): Record<string, Float32Array | Uint8Array> {
  const out = { xBestAdv: new Float32Array(N * D), robust: new Uint8Array(N), increases: new Float32Array(N),
    xBest: new Float32Array(N * D), gradBest: new Float32Array(N * D), lossBest: new Float32Array(N) };
  for (let i = 0; i < N; i++) {
    let pred = 0;
    for (let k = 1; k < K; k++) if (inputs.logits[i * K + k]! > inputs.logits[i * K + pred]!) pred = k;
    const correct = pred === inputs.y[i];
    const improved = inputs.loss[i]! > inputs.lossBest[i]!;
    for (let d = 0; d < D; d++) {
      const at = i * D + d;
      out.xBestAdv[at] = correct ? inputs.xBestAdv[at]! : inputs.xCur[at]!;
      out.xBest[at] = improved ? inputs.xCur[at]! : inputs.xBest[at]!;
      out.gradBest[at] = improved ? inputs.grad[at]! : inputs.gradBest[at]!;
    }
    out.robust[i] = inputs.robust[i] && correct ? 1 : 0;
    out.increases[i] = inputs.increases[i]! + (inputs.loss[i]! > inputs.lossPrev[i]! ? 1 : 0);
    out.lossBest[i] = improved ? inputs.loss[i]! : inputs.lossBest[i]!;
  }
  return out;
}

function sameBits(a: Record<string, Float32Array | Uint8Array>, b: Record<string, Float32Array | Uint8Array>, what: string): void {
  for (const k of Object.keys(b)) {
    const x = new Uint8Array(a[k]!.buffer, a[k]!.byteOffset, a[k]!.byteLength);
    const y = new Uint8Array(b[k]!.buffer, b[k]!.byteOffset, b[k]!.byteLength);
    assert.deepEqual(Array.from(x), Array.from(y), `${what}: '${k}' differs`);
  }
}

test('apgdTrack on cpu follows the bookkeeping rule, ties and NaN logits included', async () => {
  await tf.setBackend('cpu');
  sameBits(runTrack(), expected(), 'cpu vs rule');
});

test('apgdTrack on torch (one native kernel) gives the cpu bits (skipped without the addon)', async (t) => {
  await tf.setBackend('cpu');
  const cpu = runTrack();
  try {
    await import('tfjs-backend-torch');
    if (!(await tf.setBackend('torch'))) throw new Error('no torch');
  } catch {
    t.skip('torch addon not available');
    return;
  }
  sameBits(runTrack(), cpu, 'torch vs cpu');
  await tf.setBackend('cpu');
});
