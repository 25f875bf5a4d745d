/**
 * The backend contract (guide §1.6, §7): storage round trips per dtype, lazy upload, aliasing of
 * Identity and same-dtype Cast, refcounts, numDataIds, memory(), dispose() freeing every native
 * handle, ATen errors surfacing as JS errors, and the cpu fallback for kernels with no native
 * implementation.
 */
import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { TorchBackend, emptyCache, nativeBinding, nativeKernelNames } from '../src/index.js';
import { compareWithCpu, randFloats, skipReason } from './helpers.js';

const pkgDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

async function torch(): Promise<TorchBackend> {
  await tf.setBackend('torch');
  return tf.backend() as TorchBackend;
}

test('storage round trip: float32, int32 and bool, before and after upload', { skip: skipReason }, async () => {
  const be = await torch();
  const cases: Array<[tf.DataType, number[]]> = [
    ['float32', [1.5, -2.25, 0.125, -1024.5, Infinity, NaN]],
    ['int32', [0, -1, 2147483647, -2147483648, 42, 7]],
    ['bool', [1, 0, 0, 1, 1, 0]],
  ];
  for (const [dtype, values] of cases) {
    const t = tf.tensor(values, [2, 3], dtype);
    assert.deepEqual(Array.from(t.dataSync()), values, `${dtype}: JS-side values`);
    // Force the upload (the engine's reshape goes native) and read back the native copy.
    const r = tf.reshape(t, [3, 2]);
    const out = r.dataSync();
    assert.equal(out.constructor, dtype === 'float32' ? Float32Array : dtype === 'int32' ? Int32Array : Uint8Array);
    assert.deepEqual(Array.from(out), values, `${dtype}: native round trip`);
    assert.deepEqual(Array.from(await r.data()), values, `${dtype}: async read`);
    assert.equal(be.readSync(t.dataId) === be.readSync(t.dataId), false, 'native reads return new arrays');
    tf.dispose([t, r]);
  }
  // Direct binding round trip, including a Float32Array written as int32 (JS conversion: NaN -> 0).
  const b = nativeBinding()!;
  const h = b.fromTyped(new Float32Array([NaN, -1.7, 2.9, Infinity]), [4], 1);
  assert.deepEqual(Array.from(b.toTyped(h)), [0, -1, 2, 0]);
  b.free(h);
  assert.throws(() => b.fromTyped(new Float32Array(3), [2, 2], 0), /do not fill shape/);
});

test('Identity and same-dtype Cast alias their input; other casts follow JS conversions', { skip: skipReason }, async () => {
  const be = await torch();
  const x = tf.tensor1d([NaN, -1.7, 1.7, 2.5, Infinity]);
  const ids = be.numDataIds();
  const y = tf.engine().runKernel('Identity', { x }) as tf.Tensor;
  const z = tf.cast(x, 'float32');
  assert.equal(y.dataId, x.dataId, 'Identity returns the same dataId');
  assert.equal(z.dataId, x.dataId, 'Cast float32->float32 returns the same dataId');
  assert.equal(be.refCount(x.dataId), 3);
  assert.equal(be.numDataIds(), ids, 'no new data');
  const i = tf.cast(x, 'int32');
  assert.deepEqual(Array.from(i.dataSync()), [0, -1, 1, 2, 0], 'NaN and Infinity cast to 0, truncation toward zero');
  assert.deepEqual(Array.from(tf.cast(x, 'bool').dataSync()), [1, 1, 1, 1, 1]);
  tf.dispose([x, y]);
  assert.equal(be.refCount(z.dataId), 1, 'one reference left after disposing two');
  assert.deepEqual(Array.from(z.dataSync()).slice(1), [-1.7, 1.7, 2.5, Infinity].map(Math.fround));
  tf.dispose([z, i]);
});

test('numDataIds, memory() and native handles stay in step; dispose() frees every handle', { skip: skipReason }, async () => {
  const be = await torch();
  const b = nativeBinding()!;
  const startIds = be.numDataIds();
  const startHandles = be.numNativeHandles();
  const startNative = b.count();
  const x = tf.tensor2d(randFloats(12, 3), [3, 4]);
  assert.equal(be.numNativeHandles(), startHandles, 'write() is lazy: nothing uploaded yet');
  const y = tf.tidy(() => tf.relu(tf.add(x, 1)));
  const m = be.memory();
  assert.equal(m.unreliable, false);
  assert.equal(m.numNativeTensors, b.count());
  assert.ok(m.nativeBytes >= 2 * 12 * 4, `nativeBytes ${m.nativeBytes}`);
  assert.equal(b.count() - startNative, be.numNativeHandles() - startHandles, 'every native tensor is owned by the backend');
  tf.dispose([x, y]);
  tf.disposeVariables();
  assert.equal(be.numDataIds(), startIds);
  assert.equal(be.numNativeHandles(), startHandles);
  assert.equal(b.count(), startNative);

  // A separate instance: dispose() must free its handles even if tensors were never disposed.
  const other = new TorchBackend(b);
  const before = b.count();
  const info = other.makeTensorInfo([2, 2], 'float32', new Float32Array([1, 2, 3, 4]));
  other.handle(info);
  other.handle(other.makeTensorInfo([3], 'int32', new Int32Array([1, 2, 3])));
  assert.equal(b.count(), before + 2);
  other.dispose();
  assert.equal(b.count(), before);
});

test('memory().gpu and emptyCache(): absent on CPU; on CUDA they track a 64 MiB tensor', { skip: skipReason }, async () => {
  const be = await torch();
  const b = nativeBinding()!;
  if (b.device() !== 'cuda') {
    assert.equal(be.memory().gpu, undefined);
    assert.equal(b.cudaMemory(), null);
    assert.equal(emptyCache(), b.cpuCacheStats() !== null, 'on CPU only the block cache can be emptied');
    return;
  }
  emptyCache();
  const before = be.memory().gpu!;
  const big = tf.fill([16, 1024, 1024], 1.5); // 64 MiB on the GPU
  big.dataSync();
  const during = be.memory().gpu!;
  assert.ok(during.allocated - before.allocated >= 64 * 2 ** 20, `allocated grew by ${during.allocated - before.allocated}`);
  assert.ok(during.reserved >= during.allocated);
  big.dispose();
  assert.ok(be.memory().gpu!.allocated <= before.allocated, 'freed on dispose');
  assert.equal(emptyCache(), true);
  assert.ok(be.memory().gpu!.reserved < during.reserved, 'the cache was returned to the driver');
});

test('the caching CPU allocator reuses freed large blocks, and emptyCache() or TFJS_TORCH_CPU_CACHE_MB=0 releases or disables it', { skip: skipReason }, async (t) => {
  await torch();
  const b = nativeBinding()!;
  if (b.device() === 'cuda' || !b.torchVersion().startsWith('1.')) {
    t.skip(`the caching CPU allocator is built for CPU libtorch 1.x only (this engine: ${b.device()}, libtorch ${b.torchVersion()})`);
    return;
  }
  const stats = b.cpuCacheStats();
  assert.ok(stats !== null && stats.limitBytes > 0, 'the caching allocator is installed at load');
  emptyCache();
  assert.equal(b.cpuCacheStats()!.cachedBytes, 0);
  const make = () => tf.tidy(() => tf.mul(tf.fill([1024, 1024], 2), 3)); // 4 MiB results
  const first = make();
  assert.equal(first.dataSync()[12345], 6);
  first.dispose();
  const afterFree = b.cpuCacheStats()!;
  assert.ok(afterFree.cachedBytes >= 4 * 2 ** 20, `cached ${afterFree.cachedBytes} bytes after disposing 4 MiB tensors`);
  const second = make();
  const afterReuse = b.cpuCacheStats()!;
  assert.ok(afterReuse.hits > afterFree.hits, 'a same-sized request is served from the cache');
  assert.equal(second.dataSync()[54321], 6, 'a reused block holds the new result');
  second.dispose();
  assert.equal(emptyCache(), true);
  assert.equal(b.cpuCacheStats()!.cachedBytes, 0);

  const probe = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e',
    "const m = await import('./src/index.ts'); console.log(JSON.stringify(m.nativeBinding().cpuCacheStats()));"],
  { cwd: pkgDir, encoding: 'utf8', env: { ...process.env, TFJS_TORCH_CPU_CACHE_MB: '0' } });
  assert.equal(probe.status, 0, probe.stderr);
  assert.equal(probe.stdout.trim().split('\n').pop(), 'null', 'TFJS_TORCH_CPU_CACHE_MB=0 leaves the allocator out');
});

test('1,000 train steps of a small CNN leave tensors, native handles and native memory flat', { skip: skipReason }, async () => {
  const be = await torch();
  const b = nativeBinding()!;
  const w1 = tf.variable(tf.tensor4d(randFloats(3 * 3 * 1 * 4, 5, -0.5, 0.5), [3, 3, 1, 4]));
  const w2 = tf.variable(tf.tensor2d(randFloats(4 * 4 * 4 * 3, 6, -0.3, 0.3), [64, 3]));
  const x = tf.tensor4d(randFloats(4 * 8 * 8, 7), [4, 8, 8, 1]);
  const y = tf.oneHot(tf.tensor1d([0, 1, 2, 1], 'int32'), 3);
  const opt = tf.train.momentum(0.01, 0.9);
  const step = () => opt.minimize(() => {
    const h = tf.maxPool(tf.relu(tf.conv2d(x, w1 as tf.Tensor4D, 1, 'same')), 2, 2, 'valid');
    return tf.losses.softmaxCrossEntropy(y, tf.matMul(tf.reshape(h, [4, 64]), w2));
  });
  for (let i = 0; i < 20; i++) step(); // warm-up: optimizer state, allocator pools
  const tensors = tf.memory().numTensors, handles = b.count(), ids = be.numDataIds(), bytes = b.nativeBytes();
  const rss0 = process.memoryUsage().rss;
  for (let i = 0; i < 1000; i++) step();
  assert.equal(tf.memory().numTensors, tensors);
  assert.equal(b.count(), handles);
  assert.equal(be.numDataIds(), ids);
  assert.equal(b.nativeBytes(), bytes);
  const growthMb = (process.memoryUsage().rss - rss0) / 2 ** 20;
  assert.ok(growthMb < 32, `RSS grew by ${growthMb.toFixed(1)} MiB over 1000 steps`);
  tf.dispose([w1, w2, x, y]);
  opt.dispose();
});

test('ATen errors become JS errors (no abort), with tfjs-style messages', { skip: skipReason }, async () => {
  await torch();
  const b = nativeBinding()!;
  assert.throws(() => b.free(123456), /unknown tensor handle/);
  assert.throws(() => tf.tidy(() => tf.gather(tf.tensor1d([1, 2]), tf.tensor1d([5], 'int32')).dataSync()), /GatherV2: the index value 5 is not in \[0, 1\]/);
  // A shape error inside ATen itself.
  const h = b.fromTyped(new Float32Array(6), [2, 3], 0);
  assert.throws(() => (b.reshape as (h: number, s: number[]) => Int32Array)(h, [4, 2]), /torch: .*invalid/);
  b.free(h);
});

test('kernels without a native implementation run through the cpu fallback', { skip: skipReason }, async () => {
  const names = nativeKernelNames();
  assert.ok(!names.has('CropAndResize') && !names.has('SparseSegmentSum'), 'the chosen kernels are fallback ones');
  assert.ok(names.has('Add') && names.has('Sum'));
  await compareWithCpu('cropAndResize', () => tf.image.cropAndResize(
    tf.tensor4d(randFloats(2 * 6 * 5 * 3, 8), [2, 6, 5, 3]), tf.tensor2d([[0, 0, 1, 1], [0.1, 0.2, 0.7, 0.9], [0.5, 0.5, 1, 1]]),
    tf.tensor1d([0, 1, 1], 'int32'), [4, 3], 'bilinear'));
  await compareWithCpu('sparseSegmentSum', () => tf.sparse.sparseSegmentSum(
    tf.tensor2d(randFloats(12, 9), [4, 3]), tf.tensor1d([0, 1, 3], 'int32'), tf.tensor1d([0, 0, 1], 'int32')));
  await compareWithCpu('unsortedSegmentSum with rank-2 ids (the fallback half of a native kernel)', () =>
    tf.unsortedSegmentSum(tf.tensor2d(randFloats(12, 10), [3, 4]), tf.tensor2d([[0, 1, 1, 0], [2, 0, 1, 1], [1, 1, 2, 0]], [3, 4], 'int32'), 3));
  // String and complex64 tensors never go native, but still work.
  await torch();
  const s = tf.tensor1d(['a', 'bb', 'a']);
  assert.deepEqual(tf.tidy(() => tf.reshape(s, [3, 1]).arraySync()), [['a'], ['bb'], ['a']]);
  const c = tf.complex([1, 2], [3, -4]);
  assert.deepEqual(Array.from(tf.tidy(() => tf.abs(c).dataSync())), [Math.fround(Math.sqrt(10)), Math.fround(Math.sqrt(20))]);
  tf.dispose([s, c]);
});
