/**
 * Every native core kernel (element-wise, reductions, shape ops) against the stock cpu backend on
 * random non-zero inputs at several shapes, with broadcasting and int32/bool dtypes, plus the
 * gradients of the differentiable ones. The cpu backend is the independent reference.
 */
import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { compareWithCpu, nextSeed, randBools, randFloats, randInts, skipReason } from './helpers.js';

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
// The `_seed` arguments only document intent: draws come from nextSeed(), which compareWithCpu
// rewinds so both backends get the same inputs.
const f32 = (shape: number[], _seed: number, lo = -3, hi = 3) => tf.tensor(randFloats(size(shape), nextSeed(), lo, hi), shape, 'float32');
const i32 = (shape: number[], _seed: number, lo = -9, hi = 10) => tf.tensor(randInts(size(shape), nextSeed(), lo, hi), shape, 'int32');
const b8 = (shape: number[], _seed: number) => tf.tensor(randBools(size(shape), nextSeed()), shape, 'bool');

const SHAPES = [[7], [2, 3, 4], [1, 5, 5, 3]];

type Un = (x: tf.Tensor) => tf.Tensor;
// [name, op, input range]; ranges keep the float ops inside their domains.
const UNARY: Array<[string, Un, [number, number]]> = [
  ['neg', tf.neg, [-3, 3]], ['exp', tf.exp, [-3, 3]], ['log', tf.log, [0.1, 5]], ['log1p', tf.log1p, [-0.9, 5]],
  ['sqrt', tf.sqrt, [0.1, 5]], ['rsqrt', tf.rsqrt, [0.1, 5]], ['square', tf.square, [-3, 3]], ['abs', tf.abs, [-3, 3]],
  ['sign', tf.sign, [-3, 3]], ['floor', tf.floor, [-3, 3]], ['ceil', tf.ceil, [-3, 3]], ['round', tf.round, [-3, 3]],
  ['sigmoid', tf.sigmoid, [-5, 5]], ['tanh', tf.tanh, [-3, 3]], ['relu', tf.relu, [-3, 3]], ['relu6', tf.relu6, [-8, 8]],
  ['leakyRelu', (x) => tf.leakyRelu(x, 0.3), [-3, 3]], ['elu', tf.elu, [-3, 3]], ['step', (x) => tf.step(x, 0.25), [-3, 3]],
  ['isNaN', tf.isNaN, [-3, 3]], ['isInf', tf.isInf, [-3, 3]], ['isFinite', tf.isFinite, [-3, 3]],
  ['cos', tf.cos, [-3, 3]], ['sin', tf.sin, [-3, 3]], ['tan', tf.tan, [-1, 1]], ['acos', tf.acos, [-0.9, 0.9]],
  ['asin', tf.asin, [-0.9, 0.9]], ['atan', tf.atan, [-3, 3]], ['cosh', tf.cosh, [-3, 3]], ['sinh', tf.sinh, [-3, 3]],
  ['acosh', tf.acosh, [1.1, 5]], ['asinh', tf.asinh, [-3, 3]], ['atanh', tf.atanh, [-0.9, 0.9]], ['erf', tf.erf, [-2, 2]],
  ['softplus', tf.softplus, [-20, 20]], ['expm1', tf.expm1, [-3, 3]], ['reciprocal', tf.reciprocal, [0.2, 3]],
  ['selu', tf.selu, [-3, 3]], ['zerosLike', tf.zerosLike, [-3, 3]], ['onesLike', tf.onesLike, [-3, 3]],
];
// Differentiable ones: gradient of sum(op(x) * w) w.r.t. x on both backends.
const GRAD = new Set(['neg', 'exp', 'log', 'log1p', 'sqrt', 'rsqrt', 'square', 'abs', 'sigmoid', 'tanh', 'relu', 'relu6',
  'leakyRelu', 'elu', 'cos', 'sin', 'tan', 'acos', 'asin', 'atan', 'cosh', 'sinh', 'acosh', 'asinh', 'atanh', 'erf',
  'softplus', 'expm1', 'reciprocal', 'selu']);

test('unary kernels match cpu (float32, int32, bool inputs) and so do their gradients', { skip: skipReason }, async () => {
  let seed = 1;
  for (const [name, op, [lo, hi]] of UNARY) {
    for (const shape of SHAPES) {
      await compareWithCpu(`${name} ${shape}`, () => op(f32(shape, seed++, lo, hi)), 1e-5, 2e-6);
      if (GRAD.has(name)) {
        const s = seed++;
        await compareWithCpu(`grad ${name} ${shape}`, () => {
          const w = f32(shape, s + 1000);
          return tf.grad((x: tf.Tensor) => tf.sum(tf.mul(op(x), w)))(f32(shape, s, lo, hi));
        }, 1e-4, 1e-5);
      }
    }
    // tfjs's cpu kernels keep int32 (truncating) for most ops and give float32/bool for a few.
    // (run as kernels: the float ops reject int32 at the op level, the kernels accept it).
    const kernel = ({ isNaN: 'IsNan', isInf: 'IsInf', isFinite: 'IsFinite' } as Record<string, string>)[name] ?? name[0].toUpperCase() + name.slice(1);
    const attrs = name === 'leakyRelu' ? { alpha: 0.3 } : name === 'step' ? { alpha: 0.25 } : {};
    await compareWithCpu(`${name} int32`, () => tf.engine().runKernel(kernel, { x: i32([2, 5], seed++, name === 'acosh' ? 1 : -4, 5) }, attrs) as tf.Tensor, 1e-5, 2e-6);
  }
  await compareWithCpu('logicalNot', () => tf.logicalNot(b8([3, 4], 7)));
  await compareWithCpu('NaN handling', () => {
    const x = tf.tensor1d([NaN, -1, 0.5, Infinity, -Infinity]);
    return [tf.sign(x), tf.relu(x), tf.step(x), tf.isNaN(x), tf.isInf(x), tf.isFinite(x), tf.clipByValue(x, -0.5, 0.7)];
  });
});

type Bin = (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;
const ARITH: Array<[string, Bin]> = [
  ['add', tf.add], ['sub', tf.sub], ['mul', tf.mul], ['div', tf.div], ['realDiv', (a, b) => tf.engine().runKernel('RealDiv', { a, b }) as tf.Tensor],
  ['floorDiv', tf.floorDiv], ['mod', tf.mod], ['maximum', tf.maximum], ['minimum', tf.minimum],
  ['pow', tf.pow], ['squaredDifference', tf.squaredDifference], ['atan2', tf.atan2],
];
const COMPARE: Array<[string, Bin]> = [
  ['equal', tf.equal], ['notEqual', tf.notEqual], ['greater', tf.greater], ['greaterEqual', tf.greaterEqual],
  ['less', tf.less], ['lessEqual', tf.lessEqual],
];
const PAIRS: Array<[number[], number[]]> = [[[2, 3, 4], [2, 3, 4]], [[2, 3, 4], [3, 1]], [[5], []], [[2, 1, 4], [1, 3, 1]]];

test('binary kernels broadcast and match cpu for float32/int32, comparisons and logical ops', { skip: skipReason }, async () => {
  let seed = 100;
  for (const [name, op] of ARITH) {
    for (const [sa, sb] of PAIRS) {
      const lo = name === 'pow' ? 0.2 : -3;
      await compareWithCpu(`${name} f32 ${sa}|${sb}`, () => op(f32(sa, seed, lo, 3), f32(sb, seed + 1, name === 'pow' ? -2 : -3, 3)), 1e-5, 1e-5);
      await compareWithCpu(`${name} i32 ${sa}|${sb}`, () => op(i32(sa, seed + 2), i32(sb, seed + 3, name === 'pow' ? -2 : -9, name === 'pow' ? 4 : 10)), 1e-5, 1e-5);
      seed += 4;
      // (tfjs's Maximum/Minimum/SquaredDifference gradients do not reduce broadcast dims: same shapes only.)
      if (name !== 'atan2' && name !== 'mod' && (!['maximum', 'minimum', 'squaredDifference'].includes(name) || sa.join() === sb.join())) {
        const s = seed++;
        await compareWithCpu(`grad ${name} ${sa}|${sb}`, () => {
          const a = f32(sa, s, name === 'pow' ? 0.5 : -3, 3), b = f32(sb, s + 1, name === 'pow' ? -2 : 0.5, 3);
          return tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(op(x, y)))([a, b]);
        }, 1e-4, 1e-4);
      }
    }
  }
  // Integer division by zero gives 0 in tfjs (ATen throws); int / int stays int32, truncated.
  await compareWithCpu('int division by zero', () => {
    const a = tf.tensor1d([-7, 7, 3, 0], 'int32'), b = tf.tensor1d([2, -2, 0, 0], 'int32');
    return [tf.floorDiv(a, b), tf.mod(a, b), tf.engine().runKernel('RealDiv', { a, b }) as tf.Tensor, tf.pow(a, tf.tensor1d([-1, 2, -2, 0], 'int32'))];
  });
  // Rank-0 operands still held in JS take the by-value path (either side, every dtype).
  await compareWithCpu('JS scalar operands', () => {
    const x = f32([3, 4], seed), xi = i32([3, 4], seed + 1);
    return [tf.sub(2, x), tf.div(x, 0.5), tf.pow(x, 2), tf.greater(0.5, x), tf.floorDiv(tf.scalar(7, 'int32'), xi),
      tf.mul(xi, tf.scalar(-3, 'int32')), tf.logicalAnd(tf.scalar(true, 'bool'), b8([3, 4], seed + 2)),
      tf.add(tf.scalar(NaN), x), tf.maximum(tf.scalar(1), tf.scalar(2))];
  });
  await compareWithCpu('mixed float32/int32', () => [tf.add(f32([2, 3], 5), i32([3], 6)), tf.mul(i32([2, 3], 7), f32([2, 1], 8))]);
  for (const [name, op] of COMPARE) {
    for (const [sa, sb] of PAIRS) {
      await compareWithCpu(`${name} ${sa}|${sb}`, () => op(f32(sa, seed, -2, 2).round(), f32(sb, seed + 1, -2, 2).round()));
      await compareWithCpu(`${name} i32 ${sa}|${sb}`, () => op(i32(sa, seed + 2, -2, 3), i32(sb, seed + 3, -2, 3)));
      seed += 4;
    }
  }
  for (const [name, op] of [['logicalAnd', tf.logicalAnd], ['logicalOr', tf.logicalOr], ['logicalXor', tf.logicalXor]] as Array<[string, Bin]>) {
    await compareWithCpu(name, () => op(b8([2, 3, 4], seed++), b8([3, 1], seed++)));
  }
  await compareWithCpu('prelu', () => tf.prelu(f32([2, 3, 4], seed++), f32([4], seed++, 0.1, 0.5)));
  await compareWithCpu('eluGrad', () => tf.grad((x: tf.Tensor) => tf.sum(tf.elu(x)))(f32([3, 5], seed++)));
});

test('reductions, arg/cumulative ops, softmax and topk match cpu', { skip: skipReason }, async () => {
  let seed = 300;
  const axesList: Array<number | number[] | null> = [null, 0, -1, [0, 2], []];
  const reducers: Array<[string, (x: tf.Tensor, ax: number | number[] | null, k: boolean) => tf.Tensor]> = [
    ['sum', (x, a, k) => tf.sum(x, a, k)], ['mean', (x, a, k) => tf.mean(x, a, k)], ['max', (x, a, k) => tf.max(x, a, k)],
    ['min', (x, a, k) => tf.min(x, a, k)], ['prod', (x, a, k) => tf.prod(x, a, k)],
  ];
  for (const [name, op] of reducers) {
    for (const ax of axesList) {
      for (const keep of [false, true]) {
        await compareWithCpu(`${name} f32 ${JSON.stringify(ax)} keep=${keep}`, () => op(f32([2, 3, 4], seed++, 0.5, 1.5), ax, keep), 1e-5, 1e-5);
        await compareWithCpu(`${name} i32 ${JSON.stringify(ax)} keep=${keep}`, () => op(i32([2, 3, 4], seed++, -3, 4), ax, keep));
      }
    }
    await compareWithCpu(`${name} bool`, () => op(b8([3, 4], seed++), 1, false));
    const s = seed++;
    await compareWithCpu(`grad ${name}`, () => tf.grad((x: tf.Tensor) => tf.sum(tf.mul(op(x, 1, false), f32([2, 4], s + 1))))(f32([2, 3, 4], s, 0.5, 1.5)), 1e-4, 1e-5);
  }
  for (const ax of axesList) {
    await compareWithCpu(`any/all ${JSON.stringify(ax)}`, () => [tf.any(b8([2, 3, 4], seed++), ax), tf.all(b8([2, 3, 4], seed++), ax, true)]);
  }
  // (axis -1 is skipped: the cpu reference kernel mis-shapes Cumsum with a negative axis.)
  for (const axis of [0, 1, 2]) {
    await compareWithCpu(`argMax/argMin ${axis}`, () => {
      const x = f32([3, 4, 5], seed++);
      return [tf.argMax(x, axis), tf.argMin(x, axis), tf.argMax(i32([3, 4, 5], seed++, -2, 3), axis)];
    });
    for (const exclusive of [false, true]) {
      for (const reverse of [false, true]) {
        await compareWithCpu(`cumsum/cumprod ${axis} ${exclusive} ${reverse}`, () => {
          const x = f32([3, 4, 5], seed++, 0.5, 1.5);
          return [tf.cumsum(x, axis, exclusive, reverse), tf.cumprod(x, axis, exclusive, reverse), tf.cumsum(i32([3, 4, 5], seed++), axis, exclusive, reverse)];
        }, 1e-5, 1e-5);
      }
    }
    if (axis === 2) await compareWithCpu('softmax/logSoftmax', () => [tf.softmax(f32([3, 4, 5], seed++)), tf.logSoftmax(f32([3, 4, 5], seed++))]);
  }
  await compareWithCpu('grad softmax', () => tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.softmax(x), f32([4, 6], 9))))(f32([4, 6], 10)), 1e-4, 1e-5);
  await compareWithCpu('topk with ties', () => {
    const r = tf.topk(tf.tensor2d([[1, 3, 3, 2, 3], [5, 5, 1, 0, 5]]), 3);
    const r2 = tf.topk(f32([2, 3, 8], seed++), 4);
    return [r.values, r.indices, r2.values, r2.indices];
  });
  await compareWithCpu('grad cumsum', () => tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.cumsum(x, 1), f32([3, 4], 11))))(f32([3, 4], 12)), 1e-4, 1e-5);
});

test('shape kernels match cpu (float32/int32/bool)', { skip: skipReason }, async () => {
  let seed = 500;
  const gens = [(s: number[]) => f32(s, seed++), (s: number[]) => i32(s, seed++), (s: number[]) => b8(s, seed++)];
  for (const g of gens) {
    await compareWithCpu('reshape/transpose/expandDims', () => {
      const x = g([2, 3, 4]);
      return [tf.reshape(x, [4, -1]), tf.transpose(x, [2, 0, 1]), tf.transpose(x), tf.expandDims(x, -1), tf.expandDims(x, 1), tf.squeeze(tf.expandDims(x, 0))];
    });
    await compareWithCpu('slice', () => { const x = g([4, 5, 6]); return [tf.slice(x, [1, 0, 2], [2, -1, 3]), tf.slice(x, 2), tf.slice(x, [0, 4, 5], [4, 1, 1])]; });
    await compareWithCpu('stridedSlice', () => {
      const x = g([5, 6, 7]);
      return [tf.stridedSlice(x, [1, 0, 1], [4, 6, 7], [2, 1, 3]), tf.stridedSlice(x, [4, 5, 6], [0, 0, 0], [-1, -2, -3]),
        tf.stridedSlice(x, [0, 1], [0, 2], [1, 1], 1, 0, 0, 0, 2), tf.stridedSlice(x, [1], [3], [1], 0, 0, 0, 1, 0),
        tf.stridedSlice(x, [0, 0, 2], [5, 6, 3], [1, 1, 1], 0, 0, 0, 0, 4)];
    });
    await compareWithCpu('concat', () => [tf.concat([g([2, 3]), g([2, 2])], 1), tf.concat([g([1, 3]), g([2, 3]), g([0, 3])], 0), tf.concat([g([2, 2, 2]), g([2, 2, 1])], -1)]);
    await compareWithCpu('stack/unstack', () => [tf.stack([g([2, 3]), g([2, 3]), g([2, 3])], 1), ...tf.unstack(g([3, 2, 4]), 2)]);
    await compareWithCpu('split', () => [...tf.split(g([6, 4]), 3, 0), ...tf.split(g([2, 7]), [2, -1, 1], 1)]);
    await compareWithCpu('tile', () => [tf.tile(g([2, 3]), [2, 3]), tf.tile(g([1, 2, 2, 1]), [2, 1, 1, 3])]);
    await compareWithCpu('reverse', () => { const x = g([2, 3, 4]); return [tf.reverse(x, [0, 2]), tf.reverse(x, -1), tf.reverse(x)]; });
  }
  for (const g of gens.slice(0, 2)) {
    await compareWithCpu('pad', () => [tf.pad(g([2, 3]), [[1, 2], [0, 3]], 2), tf.pad(g([1, 2, 2, 1]), [[0, 0], [1, 1], [2, 0], [0, 0]])]);
    await compareWithCpu('mirrorPad', () => { const x = g([3, 4, 2]); return [tf.mirrorPad(x, [[2, 1], [3, 0], [0, 0]], 'reflect'), tf.mirrorPad(x, [[3, 1], [4, 2], [1, 1]], 'symmetric')]; });
    await compareWithCpu('gather', () => {
      const x = g([4, 5, 3]);
      return [tf.gather(x, tf.tensor1d([3, 0, 0, 2], 'int32')), tf.gather(x, tf.tensor2d([[4, 1], [0, 2]], [2, 2], 'int32'), 1),
        tf.gather(x, tf.tensor2d([[1, 0, 4], [2, 2, 3], [0, 0, 1], [4, 3, 2]], [4, 3], 'int32'), 1, 1)];
    });
    await compareWithCpu('zerosLike/onesLike/clip', () => { const x = g([3, 4]); return [tf.zerosLike(x), tf.onesLike(x), tf.clipByValue(x, -1.5, 2.5)]; });
  }
  await compareWithCpu('flipLeftRight', () => tf.image.flipLeftRight(f32([2, 3, 4, 3], seed++) as tf.Tensor4D));
  await compareWithCpu('oneHot', () => [tf.oneHot(tf.tensor1d([0, -1, 2, 5, 1], 'int32'), 4), tf.oneHot(tf.tensor2d([[1, 0], [2, 2]], [2, 2], 'int32'), 3, 5, -2, 'float32')]);
  await compareWithCpu('fill/range', () => [tf.fill([2, 3], 1.5), tf.fill([4], 7, 'int32'), tf.range(0, 1, 0.1), tf.range(10, 0, -3, 'int32')]);
  await compareWithCpu('select', () => [tf.where(b8([2, 3], seed++), f32([2, 3], seed++), f32([2, 3], seed++)),
    tf.where(b8([2, 1, 4], seed++), i32([3, 4], seed++), i32([2, 3, 1], seed++))]);
  // A rank-1 condition picks whole rows along dim 0 (TensorFlow's Select). Only the kernel accepts
  // it, and the cpu kernel reads t[i] instead of row i there, so the reference is computed here.
  {
    await tf.setBackend('torch');
    const t = Array.from({ length: 12 }, (_, i) => i + 1), e = t.map((v) => -v), c = [1, 0, 1];
    const r = tf.tidy(() => tf.engine().runKernel('Select', { condition: tf.tensor1d(c, 'bool'), t: tf.tensor(t, [3, 2, 2], 'int32'), e: tf.tensor(e, [3, 2, 2], 'int32') }) as tf.Tensor);
    assert.deepEqual(Array.from(r.dataSync()), t.map((v, i) => (c[Math.floor(i / 4)] ? v : -v)));
    r.dispose();
  }
  await compareWithCpu('addN', () => [tf.addN([f32([2, 3], seed++), f32([2, 3], seed++), f32([2, 3], seed++)]), tf.addN([i32([4], seed++), i32([4], seed++)])]);
  await compareWithCpu('unsortedSegmentSum and the gather gradient', () => {
    const x = f32([6, 2, 3], seed++), seg = tf.tensor1d([0, 3, 0, 1, 3, -1], 'int32');
    const idx = tf.tensor1d([4, 0, 4, 2], 'int32');
    return [tf.unsortedSegmentSum(x, seg, 4), tf.unsortedSegmentSum(i32([6], seed++), seg, 5),
      tf.grad((v: tf.Tensor) => tf.sum(tf.square(tf.gather(v, idx))))(x)];
  });
  await compareWithCpu('scatterND (duplicates add up)', () => [
    tf.scatterND(tf.tensor2d([[1], [3], [1]], [3, 1], 'int32'), f32([3, 2, 2], seed++), [5, 2, 2]),
    tf.scatterND(tf.tensor2d([[0, 1], [2, 2], [0, 1]], [3, 2], 'int32'), i32([3, 4], seed++), [3, 3, 4])]);
  await compareWithCpu('cast', () => {
    const x = tf.tensor1d([NaN, -1.7, 1.7, 2.5, 0, Infinity]);
    return [tf.cast(x, 'int32'), tf.cast(x, 'bool'), tf.cast(tf.tensor1d([0, 3, -2], 'int32'), 'bool'), tf.cast(b8([5], seed++), 'float32'), tf.cast(b8([5], seed++), 'int32')];
  });
  // Gradients through shape ops (the tape uses Slice/Pad, Concat/Split, Transpose, Tile/Sum, Gather/UnsortedSegmentSum;
  // StridedSlice has no gradient in tfjs 4.22).
  const s = seed++;
  await compareWithCpu('grads through shape ops', () => tf.grads((a: tf.Tensor, b: tf.Tensor) => {
    const c = tf.concat([tf.transpose(a, [1, 0, 2]), tf.tile(b, [1, 1, 2])], 2);
    const d = tf.slice(tf.mirrorPad(tf.slice(c, [0, 1, 0], [3, 1, 4]), [[1, 1], [0, 0], [1, 1]], 'reflect'), [1, 0, 1], [3, 1, 4]);
    return tf.sum(tf.mul(tf.gather(tf.reverse(c, 1), [1, 0, 1], 1), 2)).add(tf.sum(tf.square(d)));
  })([f32([2, 3, 2], s), f32([3, 2, 1], s + 1)]), 1e-4, 1e-5);
});

test('topk and batched gather on FAB-sized rows (784 values, a permutation per row: the gather\'s copy loop) match cpu exactly', { skip: skipReason }, async () => {
  // Values on a coarse grid so that many ties occur (ordered by index in tfjs), -0 next to 0 included.
  // (NaN is left out: tfjs's cpu sort and the engine's stable sort place it differently.)
  const rows = 120, d = 784;
  const grid = randInts(rows * d, 77, -20, 21, false).map((v, i) => (v === 0 && i % 2 ? -0 : v / 4));
  const perm = Array.from({ length: rows }, (_, r) => Array.from({ length: d }, (_, j) => (j * 7 + r * 13) % d));
  const results: Array<Array<Float32Array | Int32Array>> = [];
  for (const backend of ['cpu', 'torch']) {
    await tf.setBackend(backend);
    const out = tf.tidy(() => {
      const x = tf.tensor2d(grid, [rows, d]);
      const full = tf.topk(x, d, true);
      const some = tf.topk(tf.neg(x), 5, true);
      const ints = tf.topk(tf.cast(tf.mul(x, 4), 'int32'), d, true);
      const idx = tf.tensor2d(perm.flat(), [rows, d], 'int32');
      return [full.values, full.indices, some.values, some.indices, ints.values, ints.indices,
        tf.gather(x, idx, 1, 1), tf.gather(tf.cast(tf.mul(x, 4), 'int32'), tf.slice(idx, [0, 0], [rows, 300]), 1, 1)];
    });
    results.push(out.map((t) => (t.dtype === 'int32' ? Int32Array.from(t.dataSync() as Int32Array) : Float32Array.from(t.dataSync() as Float32Array))));
    tf.dispose(out);
  }
  const [ref, got] = results as [Array<Float32Array | Int32Array>, Array<Float32Array | Int32Array>];
  ref.forEach((r, k) => {
    const g = got[k]!;
    assert.equal(g.length, r.length, `output ${k}: size`);
    for (let i = 0; i < r.length; i++) {
      const same = Object.is(g[i], r[i]) || (Number.isNaN(g[i]) && Number.isNaN(r[i]));
      if (!same) assert.fail(`output ${k} differs at ${i}: torch ${g[i]} vs cpu ${r[i]}`);
    }
  });
});

test('concat and split on purifier-sized NHWC maps give the cpu backend\'s exact bits, on the row-copy path and on ATen\'s', { skip: skipReason }, async () => {
  // The JATP purifier's dense blocks concatenate [50,28,28,16] with [50,28,28,8] pieces along
  // channels and split the gradient back. The row-copy loops (native/ops_shape.cc) are plain
  // copies, so the bits must match exactly: NaN, ±Infinity and -0 are planted among the values.
  const special = [NaN, Infinity, -Infinity, -0, 0, 3.4e38, 1e-45];
  const floats = (shape: number[], seed: number) => {
    const v = randFloats(size(shape), seed, -3, 3);
    for (let i = 0; i < v.length; i += 97) v[i] = special[(i / 97) % special.length]!;
    return v;
  };
  const mk = (shape: number[], seed: number, dtype: 'float32' | 'int32' | 'bool') =>
    dtype === 'float32' ? tf.tensor(floats(shape, seed), shape, 'float32')
      : dtype === 'int32' ? tf.tensor(randInts(size(shape), seed, -2147483648, 2147483647, false), shape, 'int32')
        : tf.tensor(randBools(size(shape), seed), shape, 'bool');
  const cases: Array<{ what: string; dtype: 'float32' | 'int32' | 'bool'; f: (dtype: 'float32' | 'int32' | 'bool') => tf.Tensor[] }> = [];
  const nhwc = (c: number, seed: number, dtype: 'float32' | 'int32' | 'bool') => mk([50, 28, 28, c], seed, dtype);
  for (const dtype of ['float32', 'int32', 'bool'] as const) {
    cases.push({ what: 'purifier concat 16+8+8+8+8 and 1+8+16+24 along channels, its split', dtype, f: (d) => {
      const parts = [nhwc(16, 1, d), nhwc(8, 2, d), nhwc(8, 3, d), nhwc(8, 4, d), nhwc(8, 5, d)];
      const cat = tf.concat(parts, -1);
      const odd = tf.concat([nhwc(1, 6, d), nhwc(8, 7, d), nhwc(16, 8, d), nhwc(24, 9, d)], 3);
      // Along the batch axis (one row): ATen's cat and split stay in charge there.
      const batch = tf.concat([parts[1]!, tf.slice(parts[2]!, 0, 30), parts[3]!], 0);
      return [cat, odd, ...tf.split(cat, [16, 8, 8, 8, 8], -1), ...tf.split(odd, [1, 24, 0, 16, 8], 3), batch, ...tf.split(batch, [7, 0, 93, 30], 0)];
    } });
    // An odd number of rows (49 x 27 x 27), so the slices of a two-thread team differ in size.
    cases.push({ what: 'concat and split with an odd row count', dtype, f: (d) => {
      const parts = [mk([49, 27, 27, 16], 24, d), mk([49, 27, 27, 8], 25, d), mk([49, 27, 27, 3], 26, d)];
      const cat = tf.concat(parts, 3);
      return [cat, ...tf.split(cat, [16, 8, 3], 3)];
    } });
    cases.push({ what: 'odd sizes, axes 0, 1 and the last, empty pieces', dtype, f: (d) => {
      const a = mk([3, 5, 7, 3], 10, d), b = mk([3, 5, 7, 1], 11, d), c = mk([3, 5, 7, 5], 12, d);
      const e = mk([3, 5, 7, 0], 13, d);
      return [tf.concat([a, e, b, c], -1), tf.concat([a, mk([2, 5, 7, 3], 14, d)], 0), tf.concat([a, mk([3, 2, 7, 3], 15, d), mk([3, 0, 7, 3], 16, d)], 1),
        tf.concat([mk([7], 17, d), mk([0], 18, d), mk([2], 19, d)], 0), tf.concat([e, mk([3, 5, 7, 0], 20, d)], 3),
        ...tf.split(c, [2, 0, 3], 3), ...tf.split(a, [1, 0, 2], 0), ...tf.split(a, [3, 2], 1), ...tf.split(tf.concat([a, mk([3, 5, 7, 3], 22, d), mk([3, 5, 7, 3], 23, d)], 2), [7, 0, 14], 2),
        ...tf.split(mk([0, 5, 4], 21, d), [1, 3], 2)];
    } });
  }
  const bits = (t: tf.Tensor) => (t.dtype === 'float32' ? Array.from(new Uint32Array(Float32Array.from(t.dataSync() as Float32Array).buffer)) : Array.from(t.dataSync() as ArrayLike<number>));
  const { setRowCopy, rowCopyStatus, nativeBinding } = await import('../src/index.js');
  const runAll = async (backend: string) => {
    await tf.setBackend(backend);
    return cases.map((c) => {
      const outs = tf.tidy(() => c.f(c.dtype));
      const r = outs.map((t) => ({ shape: t.shape.slice(), dtype: t.dtype, bits: bits(t) }));
      tf.dispose(outs);
      return r;
    });
  };
  const ref = await runAll('cpu');
  try {
    for (const rowCopy of [true, false]) {
      setRowCopy(rowCopy);
      const { calls: calls0, parallelRanges: parallel0 } = rowCopyStatus()!;
      const got = await runAll('torch');
      const took = rowCopyStatus()!.calls - calls0;
      if (rowCopy) assert.ok(took >= 30, `row-copy path taken only ${took} times`);
      // With a team of two or more, the purifier-sized copies are split across it (threads.cc).
      if (rowCopy && nativeBinding()!.getNumThreads() > 1) assert.ok(rowCopyStatus()!.parallelRanges - parallel0 >= 10, 'the row copies never ran on more than one thread');
      else assert.equal(took, 0, 'row-copy path taken while switched off');
      cases.forEach((c, i) => {
        const r = ref[i]!, g = got[i]!;
        assert.equal(g.length, r.length, `${c.what} (${c.dtype}): outputs`);
        r.forEach((o, k) => {
          const what = `${c.what} (${c.dtype}, row copy ${rowCopy}) output ${k}`;
          assert.deepEqual(g[k]!.shape, o.shape, `${what}: shape`);
          assert.equal(g[k]!.dtype, o.dtype, `${what}: dtype`);
          assert.equal(g[k]!.bits.length, o.bits.length, `${what}: size`);
          for (let j = 0; j < o.bits.length; j++) if (g[k]!.bits[j] !== o.bits[j]) assert.fail(`${what} differs at ${j}: torch ${g[k]!.bits[j]} vs cpu ${o.bits[j]}`);
        });
      });
    }
  } finally {
    setRowCopy(true);
  }
  // The gradient of a channel concatenation is a split of dy; a reused piece's gradients add up.
  await compareWithCpu('grad through the purifier\'s concatenations', () => {
    const x = f32([4, 6, 6, 16], 30), w = f32([4, 6, 6, 40], 31);
    return tf.grad((v: tf.Tensor) => {
      const a = tf.leakyRelu(tf.slice(v, [0, 0, 0, 0], [4, 6, 6, 8]), 0.2);
      const b = tf.mul(tf.concat([v, a], -1), 2);
      const c = tf.concat([v, a, tf.slice(b, [0, 0, 0, 8], [4, 6, 6, 16])], -1);
      return tf.sum(tf.mul(c, w));
    })(x);
  }, 1e-5, 1e-6);
});
