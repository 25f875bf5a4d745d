/**
 * The Winograd convolutions (native/ops_conv_winograd.cc): for 3x3 stride-1 'same' convolutions
 * with channels divisible by 16, at least 32 on each side and 64 on one, on maps of 8x8 and more, the forward pass and both gradients
 * run on oneDNN's Winograd kernels. They must match the cpu backend like the direct path does, be
 * taken exactly where the rule says (the native call counters prove it), and leave no tensors or
 * native bytes behind (the transformed filter is cached with its handle and freed with it).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';

import { nativeBinding, setWinograd, winogradStatus } from '../src/index.js';
import { expectSameAsCpu, randomValues, skipReason, tf } from './nn_helpers.js';

const base = skipReason();
const status = base === undefined ? winogradStatus() : null;
const skip = base ?? (!status?.built
  ? 'addon built without oneDNN headers (apt-get install libdnnl-dev, then npm run build:native): no Winograd path to test'
  : !status.supported ? 'this CPU has no oneDNN Winograd kernels (oneDNN 2 implements them for AVX-512): the direct path runs' : undefined);

const calls = () => ({ ...winogradStatus()!.calls });
const delta = (before: ReturnType<typeof calls>) => {
  const now = calls();
  return { forward: now.forward - before.forward, backpropInput: now.backpropInput - before.backpropInput,
    backpropFilter: now.backpropFilter - before.backpropFilter };
};

const conv = (x: tf.Tensor, f: tf.Tensor, stride = 1) => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, stride, 'same');
const convGrads = (stride = 1) => (x: tf.Tensor, f: tf.Tensor, r: tf.Tensor) =>
  tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(conv(a, b, stride), r)))([x, f]);

test('the build uses oneDNN where its headers are installed', { skip: base }, () => {
  // Debian's libdnnl-dev is what bootstrap.sh installs; with it, a CPU build must have the path.
  const hasHeaders = fs.existsSync('/usr/include/oneapi/dnnl/dnnl.hpp');
  const cpuBuild = nativeBinding()!.device() === 'cpu' && process.env.LIBTORCH === undefined;
  if (hasHeaders && cpuBuild) assert.equal(winogradStatus()!.built, true, 'oneDNN headers are installed but the addon has no Winograd path');
});

test('Winograd forward and both gradients match cpu, and are the ones that ran', { skip }, async () => {
  const cases = [
    { x: [2, 8, 8, 64], cout: 64 },
    { x: [2, 16, 12, 64], cout: 80 },
    { x: [1, 32, 32, 80], cout: 64 },
    // 32 channels on one side, 64 or more on the other (a paper-size dense block's convolutions).
    { x: [2, 8, 8, 128], cout: 32 },
    { x: [1, 12, 12, 32], cout: 64 },
    // Maps that are not a whole number of Winograd's 4x4 output tiles.
    { x: [2, 11, 7, 64], cout: 64 },
    { x: [1, 64, 3, 64], cout: 64 },
  ];
  for (const c of cases) {
    const w = [3, 3, c.x[3]!, c.cout];
    const r = [c.x[0]!, c.x[1]!, c.x[2]!, c.cout];
    const before = calls();
    await expectSameAsCpu(`winograd conv2d ${c.x}`, [{ shape: c.x }, { shape: w, scale: 0.3 }], (x, f) => conv(x, f));
    await expectSameAsCpu(`winograd conv2d grads ${c.x}`, [{ shape: c.x }, { shape: w, scale: 0.3 }, { shape: r }], convGrads());
    const d = delta(before);
    assert.ok(d.forward >= 2 && d.backpropInput >= 1 && d.backpropFilter >= 1, `${c.x}: Winograd calls ${JSON.stringify(d)}`);
  }
});

test('fused conv2d with bias and relu takes the Winograd path and matches cpu', { skip }, async () => {
  const before = calls();
  await expectSameAsCpu('winograd fusedConv2d bias+relu', [{ shape: [2, 10, 10, 64] }, { shape: [3, 3, 64, 64], scale: 0.3 }, { shape: [64] }],
    (x, f, b) => tf.fused.conv2d({ x: x as tf.Tensor4D, filter: f as tf.Tensor4D, strides: 1, pad: 'same', bias: b, activation: 'relu' }));
  assert.ok(delta(before).forward >= 1, 'the fused convolution did not use Winograd');
});

test('convolutions outside the rule keep the direct path', { skip }, async () => {
  const outside = [
    { name: '4x4 map', x: [2, 4, 4, 64], cout: 64, stride: 1 },
    { name: 'stride 2', x: [2, 16, 16, 64], cout: 64, stride: 2 },
    { name: '3 input channels', x: [2, 16, 16, 3], cout: 64, stride: 1 },
    { name: '72 output channels', x: [2, 16, 16, 64], cout: 72, stride: 1 },
    // Narrow layers, where Winograd is slower than the direct kernels.
    { name: '16 output channels', x: [2, 16, 16, 64], cout: 16, stride: 1 },
    { name: '32 channels in and out', x: [2, 16, 16, 32], cout: 32, stride: 1 },
    { name: '16 input channels', x: [2, 16, 16, 16], cout: 64, stride: 1 },
  ];
  for (const c of outside) {
    const outHW = Math.ceil(c.x[1]! / c.stride);
    const before = calls();
    await expectSameAsCpu(`direct ${c.name}`, [{ shape: c.x }, { shape: [3, 3, c.x[3]!, c.cout] }, { shape: [c.x[0]!, outHW, outHW, c.cout] }],
      convGrads(c.stride));
    assert.deepEqual(delta(before), { forward: 0, backpropInput: 0, backpropFilter: 0 }, c.name);
  }
});

test('setWinograd(false) runs the direct kernels; both agree to float32 rounding', { skip }, async () => {
  await tf.setBackend('torch');
  const x = tf.tensor4d(randomValues(2 * 16 * 16 * 64, 7), [2, 16, 16, 64]);
  const f = tf.tensor4d(randomValues(3 * 3 * 64 * 64, 8), [3, 3, 64, 64]);
  const r = tf.tensor4d(randomValues(2 * 16 * 16 * 64, 9), [2, 16, 16, 64]);
  const run = () => tf.tidy(() => {
    const [dx, df] = convGrads()(x, f, r);
    // Read inside: the backend defers filter gradients until they are used.
    return [conv(x, f), dx!, df!].map((t) => Float32Array.from(t.dataSync() as ArrayLike<number>));
  });
  try {
    setWinograd(false);
    const before = calls();
    const direct = run();
    assert.deepEqual(delta(before), { forward: 0, backpropInput: 0, backpropFilter: 0 }, 'switched off, yet Winograd ran');
    setWinograd(true);
    const wino = run();
    // A second run reuses the filter's cached transformed copy: same result, bit for bit.
    const again = run();
    again.forEach((v, i) => assert.deepEqual(v, wino[i], 'a run with the cached transformed filter differs'));
    ['forward', 'input gradient', 'filter gradient'].forEach((name, i) => {
      let maxAbs = 0;
      let maxDiff = 0;
      direct[i]!.forEach((v, k) => { maxAbs = Math.max(maxAbs, Math.abs(v)); maxDiff = Math.max(maxDiff, Math.abs(v - wino[i]![k]!)); });
      assert.ok(maxDiff <= 1e-5 * maxAbs, `${name}: max |winograd - direct| = ${maxDiff} (max |direct| ${maxAbs})`);
      assert.ok(maxDiff > 0, `${name}: bit-identical results suggest both runs took the same path`);
    });
  } finally {
    setWinograd(true);
    tf.dispose([x, f, r]);
  }
});

test('no tensors or native bytes stay behind: the cached transformed filter goes with its handle', { skip }, async () => {
  await tf.setBackend('torch');
  const b = nativeBinding()!;
  const x = tf.tensor4d(randomValues(4 * 16 * 16 * 64, 3), [4, 16, 16, 64]);
  const step = () => tf.tidy(() => {
    const f = tf.tensor4d(randomValues(3 * 3 * 64 * 64, 4), [3, 3, 64, 64]);
    const y = conv(x, f);
    const s = tf.sum(y).dataSync()[0]!;
    return s;
  });
  step();
  const tensors = tf.memory().numTensors;
  const bytes = b.nativeBytes();
  for (let i = 0; i < 5; i++) step();
  assert.equal(tf.memory().numTensors, tensors);
  assert.equal(b.nativeBytes(), bytes);
  x.dispose();
});
