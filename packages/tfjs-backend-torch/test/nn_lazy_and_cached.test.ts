/**
 * Work the torch backend skips or reuses. Deferred filter gradients (TorchBackend.deferred, used by
 * Conv2DBackpropFilter): an input-only gradient through tfjs's fused conv2d never computes the
 * filter gradient; a consumed one is the same as on cpu, also after its inputs were disposed; an
 * unread one frees what it retained. Deferred bias gradients (Sum over every axis but the last, and
 * the Reshape tfjs puts after it): the same, through the chain. Cached conv weight layouts (DerivedOf in native/storage.cc):
 * correct for every input format, and freed with the weight.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { adamStep, nativeBinding, sgdMomentumStep } from '../src/index.js';
import type { TorchBackend } from '../src/index.js';
import { randomValues, skipReason, tf } from './nn_helpers.js';

const skip = skipReason();

/** Counts native filter-gradient computations while `f` runs. */
function countFilterGrads(f: () => void): number {
  const b = nativeBinding() as unknown as Record<string, (...a: unknown[]) => unknown>;
  const original = b.nnConv2dBackpropFilter;
  let calls = 0;
  b.nnConv2dBackpropFilter = (...a: unknown[]) => { calls++; return original(...a); };
  try { f(); } finally { b.nnConv2dBackpropFilter = original; }
  return calls;
}

test('an input gradient through fused conv2d skips the filter gradient; a filter gradient still computes it', { skip }, async () => {
  await tf.setBackend('torch');
  const x = tf.tensor4d(randomValues(2 * 8 * 8 * 3, 1), [2, 8, 8, 3]);
  const w = tf.variable(tf.tensor4d(randomValues(3 * 3 * 3 * 4, 2), [3, 3, 3, 4]));
  const bias = tf.tensor1d(randomValues(4, 3));
  const loss = (input: tf.Tensor4D) => tf.sum(tf.square(tf.fused.conv2d({ x: input, filter: w, bias, strides: 1, pad: 'same' })));
  const before = tf.memory().numTensors;
  let dx: tf.Tensor | undefined;
  assert.equal(countFilterGrads(() => { dx = tf.grad(loss)(x); }), 0, 'dx alone must not compute dW');
  assert.equal(dx!.shape.join(), '2,8,8,3');
  dx!.dispose();
  assert.equal(tf.memory().numTensors, before, 'the unread filter gradient was disposed');

  let grads: tf.NamedTensorMap = {};
  assert.equal(countFilterGrads(() => { grads = tf.variableGrads(() => loss(x) as tf.Scalar, [w]).grads; }), 0,
    'still deferred until something reads it');
  const dw = grads[w.name];
  let values: Float32Array | undefined;
  assert.equal(countFilterGrads(() => { values = dw.dataSync() as Float32Array; }), 1, 'reading it computes it once');
  // Reference: the same gradient on the cpu backend.
  await tf.setBackend('cpu');
  const xc = tf.tensor4d(x.dataSync(), x.shape), wc = tf.tensor4d(w.dataSync(), w.shape), bc = tf.tensor1d(bias.dataSync());
  const ref = tf.grad((f: tf.Tensor4D) => tf.sum(tf.square(tf.fused.conv2d({ x: xc, filter: f, bias: bc, strides: 1, pad: 'same' }))))(wc);
  const expected = ref.dataSync();
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(values![i] - expected[i]) <= 1e-4 * (1 + Math.abs(expected[i])), `dW[${i}]: ${values![i]} vs ${expected[i]}`);
  }
  tf.dispose([xc, wc, bc, ref]);
  await tf.setBackend('torch');
  tf.dispose([x, w, bias, dw]);
});

/** Counts native sums over every axis but the last (how tfjs makes a bias gradient) while `f` runs. */
function countBiasSums(f: () => void): number {
  const b = nativeBinding() as unknown as Record<string, (...a: unknown[]) => unknown>;
  const original = b.reduce;
  let calls = 0;
  b.reduce = (...a: unknown[]) => {
    const axes = a[2] as number[];
    if (axes.length === 3 && axes.every((v, i) => v === i)) calls++;
    return original(...a);
  };
  try { f(); } finally { b.reduce = original; }
  return calls;
}

test('an input gradient through fused conv2d and matMul skips their bias gradients; a bias gradient is still the cpu backend\'s', { skip }, async () => {
  const xs = randomValues(2 * 6 * 6 * 3, 41), ws = randomValues(3 * 3 * 3 * 4, 42), bs = randomValues(4, 43);
  const ds = randomValues(6 * 6 * 4 * 5, 44), dbs = randomValues(5, 45);
  const run = async (backend: string) => {
    assert.ok(await tf.setBackend(backend), `setBackend(${backend})`);
    const before = tf.memory().numTensors;
    const x = tf.tensor4d(xs, [2, 6, 6, 3]);
    const w = tf.tensor4d(ws, [3, 3, 3, 4]);
    const bias = tf.tidy(() => tf.variable(tf.tensor1d(bs)));
    const dw = tf.tensor2d(ds, [6 * 6 * 4, 5]);
    const dbias = tf.tidy(() => tf.variable(tf.tensor1d(dbs)));
    const loss = (input: tf.Tensor4D) => {
      const h = tf.fused.conv2d({ x: input, filter: w, bias, strides: 1, pad: 'same', activation: 'relu' });
      const logits = tf.fused.matMul({ a: tf.reshape(h, [2, -1]), b: dw, bias: dbias });
      return tf.sum(tf.square(logits)) as tf.Scalar;
    };
    let skipped = -1;
    if (backend === 'torch') {
      let dx: tf.Tensor | undefined;
      skipped = countBiasSums(() => { dx = tf.grad(loss)(x); });
      dx!.dispose();
    }
    let values: number[][] = [];
    let computed = -1;
    const { value, grads } = tf.variableGrads(() => loss(x), [bias, dbias]);
    value.dispose();
    const read = () => { values = [Array.from(grads[bias.name]!.dataSync()), Array.from(grads[dbias.name]!.dataSync())]; };
    if (backend === 'torch') computed = countBiasSums(read);
    else read();
    tf.dispose([x, w, bias, dw, dbias, grads[bias.name]!, grads[dbias.name]!]);
    assert.equal(tf.memory().numTensors, before, `${backend}: leaked tensors`);
    return { values, skipped, computed };
  };
  const ref = await run('cpu');
  const got = await run('torch');
  assert.equal(got.skipped, 0, 'dx alone must not sum the conv\'s bias gradient');
  assert.equal(got.computed, 1, 'reading the conv\'s bias gradient sums it once');
  got.values.forEach((vals, j) => vals.forEach((v, k) => {
    const e = ref.values[j]![k]!;
    assert.ok(Math.abs(v - e) <= 1e-4 * (1 + Math.abs(e)), `bias gradient ${j}[${k}]: ${v} vs ${e}`);
  }));
});

test('a deferred chain (Sum, then Reshape) survives disposal of its input, and an unread one releases it', { skip }, async () => {
  await tf.setBackend('torch');
  const be = tf.backend() as TorchBackend;
  const make = () => tf.tensor4d(randomValues(3 * 5 * 5 * 7, 51), [3, 5, 5, 7]);
  const expected = tf.tidy(() => Array.from(tf.reshape(tf.sum(make(), [0, 1, 2]), [7, 1]).dataSync()));
  const handles0 = be.numNativeHandles();
  const ids0 = be.numDataIds();
  const chain = (x: tf.Tensor) => {
    const s = tf.sum(x, [0, 1, 2]);
    const r = tf.reshape(s, [7, 1]);
    s.dispose();
    return r;
  };
  const a = make();
  const lazy = chain(a);
  assert.ok(be.isPending(lazy), 'the reshape of a deferred sum is deferred');
  a.dispose();
  const got = tf.tidy(() => tf.mul(lazy, 1)); // consumed by a kernel, after the input is gone
  assert.deepEqual(Array.from(got.dataSync()), expected);
  tf.dispose([got, lazy]);
  assert.equal(be.numNativeHandles(), handles0, 'no handle left behind after resolving');
  assert.equal(be.numDataIds(), ids0, 'no data left behind after resolving');

  const b = make();
  const unread = chain(b);
  b.dispose();
  assert.ok(be.numNativeHandles() > handles0, 'the pending chain retains its input');
  unread.dispose();
  assert.equal(be.numNativeHandles(), handles0, 'disposing it unread releases the input');
  assert.equal(be.numDataIds(), ids0, 'and the deferred sum in the middle');
  // A sum kept with its axes (keepDims) or over other axes is not deferred.
  const c = make();
  const kept = tf.sum(c, [0, 1, 2], true);
  const other = tf.sum(c, [1, 2]);
  assert.ok(!be.isPending(kept) && !be.isPending(other));
  tf.dispose([c, kept, other]);
});

test('a deferred result survives disposal of its inputs, and an unread one releases them', { skip }, async () => {
  await tf.setBackend('torch');
  const be = tf.backend() as TorchBackend;
  const attrs = { strides: [2, 2], pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 5, 6] };
  const make = () => {
    const x = tf.tensor4d(randomValues(3 * 9 * 9 * 5, 4), [3, 9, 9, 5]);
    const dy = tf.tensor4d(randomValues(3 * 5 * 5 * 6, 5), [3, 5, 5, 6]);
    return { x, dy };
  };
  // Eager reference on the same backend (with the deferral, 'read' resolves it).
  const a = make();
  const eager = tf.engine().runKernel('Conv2DBackpropFilter', { x: a.x, dy: a.dy }, attrs as never) as tf.Tensor;
  const expected = eager.dataSync().slice();
  tf.dispose([eager, a.x, a.dy]);

  const handles0 = be.numNativeHandles();
  const b = make();
  const lazy = tf.engine().runKernel('Conv2DBackpropFilter', { x: b.x, dy: b.dy }, attrs as never) as tf.Tensor;
  tf.dispose([b.x, b.dy]);
  const got = tf.tidy(() => tf.mul(lazy, 1)); // consumed by a kernel, after its inputs are gone
  assert.deepEqual(Array.from(got.dataSync()), Array.from(expected));
  tf.dispose([got, lazy]);
  assert.equal(be.numNativeHandles(), handles0, 'no handle left behind after resolving');

  const c = make();
  const unread = tf.engine().runKernel('Conv2DBackpropFilter', { x: c.x, dy: c.dy }, attrs as never) as tf.Tensor;
  tf.dispose([c.x, c.dy]);
  assert.ok(be.numNativeHandles() > handles0, 'the pending result retains its inputs');
  unread.dispose();
  assert.equal(be.numNativeHandles(), handles0, 'disposing it unread releases them');
});

test('a conv weight keeps one cached layout per input format, reused across calls and freed with it', { skip }, async () => {
  const b = nativeBinding()!;
  const shapes: Array<[number, number]> = [[4, 4], [16, 16], [4, 4], [16, 16]]; // contiguous / channels-last paths
  const run = async (backend: string) => {
    assert.ok(await tf.setBackend(backend), `setBackend(${backend})`);
    const w = tf.tensor4d(randomValues(3 * 3 * 8 * 6, 7), [3, 3, 8, 6]);
    const outs = shapes.map(([h, wd], i) => {
      const x = tf.tensor4d(randomValues(2 * h * wd * 8, 10 + i), [2, h, wd, 8]);
      const dy = tf.tensor4d(randomValues(2 * h * wd * 6, 20 + i), [2, h, wd, 6]);
      const y = tf.conv2d(x, w, 1, 'same');
      const dx = tf.conv2dTranspose(dy, w, [2, h, wd, 8], 1, 'same');
      const r = [Array.from(y.dataSync()), Array.from(dx.dataSync())];
      tf.dispose([x, dy, y, dx]);
      return r;
    });
    const bytesWithCache = backend === 'torch' ? b.nativeBytes() : 0;
    w.dispose();
    return { outs, bytesWithCache, bytesAfter: backend === 'torch' ? b.nativeBytes() : 0 };
  };
  const ref = await run('cpu');
  const got = await run('torch');
  got.outs.forEach((pair, i) => pair.forEach((vals, j) => vals.forEach((v, k) => {
    const e = ref.outs[i][j][k];
    assert.ok(Math.abs(v - e) <= 1e-4 * (1 + Math.abs(e)), `call ${i} ${j ? 'dx' : 'y'}[${k}]: ${v} vs ${e}`);
  })));
  // The weight (432 floats) plus its two cached layouts were counted, and all go with the weight.
  assert.ok(got.bytesWithCache - got.bytesAfter >= 3 * 432 * 4, `freed ${got.bytesWithCache - got.bytesAfter} bytes`);
});

/**
 * Two convolutions, one on the channels-last path (16x16 output) and one on the contiguous path
 * (4x4 output), trained two SGD-momentum steps then two Adam steps from their filter gradients.
 * On torch the gradients and the updated filters keep the convolution's memory layout
 * (native/ops_conv.cc, ops_fused.cc); the values must still be the cpu backend's, read back, as
 * inputs of other kernels and as filters of the next convolution.
 */
test('filters trained from their gradients keep the convolution\'s layout and the cpu backend\'s values', { skip }, async () => {
  const b = nativeBinding()!;
  const lr = 0.05, momentum = 0.9, wd = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  const run = async (backend: string) => {
    assert.ok(await tf.setBackend(backend), `setBackend(${backend})`);
    const before = tf.memory().numTensors;
    const x = tf.tensor4d(randomValues(2 * 16 * 16 * 8, 31), [2, 16, 16, 8]);
    const params = tf.tidy(() => [tf.variable(tf.tensor4d(randomValues(3 * 3 * 8 * 6, 32), [3, 3, 8, 6])),
      tf.variable(tf.tensor4d(randomValues(3 * 3 * 6 * 5, 33), [3, 3, 6, 5]))]);
    const slots = () => tf.tidy(() => params.map((p) => tf.variable(tf.zerosLike(p), false)));
    const [vel, m, v] = [slots(), slots(), slots()];
    const forward = (input: tf.Tensor4D, wA: tf.Tensor4D, wB: tf.Tensor4D) => {
      const h = tf.relu(tf.conv2d(input, wA, 1, 'same'));
      return tf.conv2d(tf.avgPool(h, 2, 2, 'valid'), wB, 2, 'same'); // 8x8 -> 4x4
    };
    const grads = () => {
      const { grads: g } = tf.variableGrads(() => tf.mul(tf.sum(tf.square(forward(x, params[0] as tf.Tensor4D, params[1] as tf.Tensor4D))), 0.01) as tf.Scalar, params);
      return params.map((p) => g[p.name]!);
    };
    for (let step = 1; step <= 4; step++) {
      tf.tidy(() => {
        const gs = grads();
        if (step <= 2) {
          if (backend === 'torch') { sgdMomentumStep(params, vel, gs, { lr, momentum, weightDecay: wd }); return; }
          params.forEach((p, i) => {
            const g = tf.add(gs[i]!, tf.mul(p, wd));
            vel[i]!.assign(tf.add(g, tf.mul(vel[i]!, momentum)));
            p.assign(tf.sub(p, tf.mul(vel[i]!, lr)));
          });
          return;
        }
        const t = step - 2;
        if (backend === 'torch') { adamStep(params, m, v, gs, { lr, beta1, beta2, epsilon: eps, weightDecay: wd, step: t }); return; }
        params.forEach((p, i) => {
          const g = tf.add(gs[i]!, tf.mul(p, wd));
          m[i]!.assign(tf.add(tf.mul(m[i]!, beta1), tf.mul(g, 1 - beta1)));
          v[i]!.assign(tf.add(tf.mul(v[i]!, beta2), tf.mul(tf.square(g), 1 - beta2)));
          const denom = tf.add(tf.div(tf.sqrt(v[i]!), Math.sqrt(1 - beta2 ** t)), eps);
          p.assign(tf.sub(p, tf.mul(tf.div(m[i]!, denom), lr / (1 - beta1 ** t))));
        });
      });
    }
    // With the layout kept, the next convolution uses each filter as stored: its cached layout is
    // a view, so native memory grows by the output only. (A contiguous HWIO filter would add a
    // reordered copy of itself.)
    const growth = params.map((p, i) => {
      const input = i === 0 ? x : tf.tensor4d(randomValues(2 * 8 * 8 * 6, 34), [2, 8, 8, 6]);
      if (backend === 'torch') (tf.backend() as TorchBackend).handle(input); // uploaded before counting
      const bytes0 = backend === 'torch' ? b.nativeBytes() : 0;
      const y = tf.conv2d(input, p as tf.Tensor4D, i === 0 ? 1 : 2, 'same');
      const grown = backend === 'torch' ? b.nativeBytes() - bytes0 - y.size * 4 : 0;
      tf.dispose(i === 0 ? [y] : [y, input]);
      return grown;
    });
    const read = (t: tf.Tensor) => Array.from(t.dataSync());
    const values = {
      params: params.map(read), velocities: vel.map(read), m: m.map(read), v: v.map(read),
      reshaped: tf.tidy(() => read(tf.reshape(params[0]!, [-1, 6]))),
      transposed: tf.tidy(() => read(tf.transpose(params[1]!, [3, 2, 0, 1]))),
      output: tf.tidy(() => read(forward(x, params[0] as tf.Tensor4D, params[1] as tf.Tensor4D))),
    };
    tf.dispose([x, ...params, ...vel, ...m, ...v]);
    assert.equal(tf.memory().numTensors, before, `${backend}: leaked tensors`);
    return { values, growth };
  };
  const ref = await run('cpu');
  const got = await run('torch');
  for (const [name, vals] of Object.entries(got.values)) {
    const exp = ref.values[name as keyof typeof ref.values];
    const flat = (a: number[] | number[][]) => (Array.isArray(a[0]) ? (a as number[][]).flat() : a as number[]);
    const [g, e] = [flat(vals), flat(exp)];
    assert.equal(g.length, e.length, name);
    g.forEach((val, k) => assert.ok(Math.abs(val - e[k]!) <= 2e-4 * (1 + Math.abs(e[k]!)), `${name}[${k}]: ${val} vs ${e[k]}`));
  }
  assert.deepEqual(got.growth, [0, 0], 'bytes beyond the outputs when convolving with the trained filters');
});
