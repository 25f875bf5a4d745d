/**
 * `npm run bench:engine`: the engine issue's benchmark (not a test).
 *
 *  - conv2d forward / dX / dW GFLOP/s at ResNet-18's CIFAR shapes (batch 32);
 *  - a ResNet-18 (CIFAR, 11.17 M params, plain tf ops, BN in training mode) train step with SGD
 *    momentum at batch 32 and 128;
 *  - one PGD step (gradient w.r.t. the input, BN in eval mode) and one forward pass at batch 128;
 * against PyTorch (bench/torch_bench.py --serve, when /usr/bin/python3 can import torch)
 * INTERLEAVED: after a warm-up of each side, torch and PyTorch alternate run by run, and the
 * ratio is the median over pairs with its min-max (bench/interleave.ts). Both sides run with
 * OMP_WAIT_POLICY=PASSIVE and the same thread count (the engine sets PASSIVE for itself; libgomp's
 * default spinning makes either side several times slower on a shared machine).
 * The torch side uses the fused calls (batchNormTraining, sgdMomentumStep, linfStep); the kernel
 * calls dispatched per train step and per PGD step are counted for both that and the plain tfjs
 * composition (tf.moments + tf.batchNorm, tf.train.momentum, sign/add/clip), in the same run.
 * Conv GFLOP/s and wasm figures are sequential medians over --repeats (not ratios).
 * Prints the CPU model and load average, and writes every figure to --out (default bench-results.json).
 *
 * Options: --out FILE  --pairs N (default 5)  --repeats N (conv/wasm, default 3; wasm uses 1)
 *          --batches 32,128  --no-wasm  --no-conv  --no-python  --python PATH (default /usr/bin/python3)
 *          --profile (per-kernel times on torch)  --no-winograd-ab
 * Where the addon has the Winograd convolutions (native/ops_conv_winograd.cc), the train steps
 * are also timed with them on vs off, interleaved the same way (skip with --no-winograd-ab).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';

import { TorchBackend, kernelStats, linfStep, nativeBinding, provenance, setWinograd, sgdMomentumStep, torchStatus, winogradStatus } from '../src/index.js';
import { formatRatio, interleave, machine, type RatioFigures } from './interleave.js';
import { PytorchServer } from './pytorch_server.js';
import { resnet18 } from './resnet18.js';

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));

function arg(name: string, dflt?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0 && i + 1 < process.argv.length) return process.argv[i + 1];
  const eq = process.argv.find((a) => a.startsWith(`--${name}=`));
  return eq ? eq.slice(name.length + 3) : dflt;
}
const flag = (name: string) => process.argv.includes(`--${name}`);

const outPath = arg('out', 'bench-results.json')!;
const repeats = Math.max(1, Number(arg('repeats', '3')));
const pairs = Math.max(1, Number(arg('pairs', '5')));
const useConv = !flag('no-conv');
const batches = arg('batches', '32,128')!.split(',').map(Number);
const python = arg('python', '/usr/bin/python3')!;
const useWasm = !flag('no-wasm');
const usePython = !flag('no-python');

if (tf.getGradient('Conv2D') === undefined) require('@tensorflow/tfjs-core/dist/register_all_gradients');

const log = (s: string) => process.stderr.write(`${s}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Median wall seconds of `fn` (after one warm-up), forcing results to be computed. */
function timeIt(fn: () => tf.Tensor | tf.Tensor[] | number, n: number): number {
  const once = () => {
    const t0 = process.hrtime.bigint();
    const r = fn();
    if (typeof r !== 'number') {
      const ts = Array.isArray(r) ? r : [r];
      // On torch, waiting for the device is enough (a read would add a device-to-host copy of the
      // whole result to a GPU timing; CPU kernels have finished when they return). wasm/cpu: read.
      if (tf.getBackend() === 'torch') {
        const be = tf.backend() as TorchBackend;
        for (const t of ts) be.handle(t); // computes deferred results (the conv dW of convBench)
        nativeBinding()!.synchronize();
      }
      else for (const t of ts) t.dataSync();
      tf.dispose(ts);
    }
    return Number(process.hrtime.bigint() - t0) / 1e9;
  };
  once();
  const ts: number[] = [];
  for (let i = 0; i < n; i++) ts.push(once());
  return median(ts);
}

// name -> [in channels, out channels, input size, stride]; same list as torch_bench.py.
const CONV_SHAPES: Record<string, [number, number, number, number]> = {
  stem_3x64_32: [3, 64, 32, 1],
  l1_64x64_32: [64, 64, 32, 1],
  l2_64x128_32_s2: [64, 128, 32, 2],
  l2_128x128_16: [128, 128, 16, 1],
  l3_128x256_16_s2: [128, 256, 16, 2],
  l3_256x256_8: [256, 256, 8, 1],
  l4_256x512_8_s2: [256, 512, 8, 2],
  l4_512x512_4: [512, 512, 4, 1],
};

interface ConvFigures { seconds: number; gflops: number }

function convBench(backend: string, n: number): Record<string, Record<string, ConvFigures | string>> {
  const out: Record<string, Record<string, ConvFigures | string>> = {};
  const N = 32;
  for (const [name, [cin, cout, hw, stride]] of Object.entries(CONV_SHAPES)) {
    const x = tf.randomUniform([N, hw, hw, cin]) as tf.Tensor4D;
    const w = tf.randomUniform([3, 3, cin, cout]) as tf.Tensor4D;
    const oh = Math.ceil(hw / stride);
    const dy = tf.randomUniform([N, oh, oh, cout]) as tf.Tensor4D;
    const flops = 2 * N * oh * oh * cout * cin * 9;
    const fig = (s: number): ConvFigures => ({ seconds: s, gflops: flops / s / 1e9 });
    const row: Record<string, ConvFigures | string> = {};
    row.forward = fig(timeIt(() => tf.conv2d(x, w, stride, 'same'), n));
    row.dX = fig(timeIt(() => tf.conv2dTranspose(dy, w, [N, hw, hw, cin], stride, 'same'), n));
    if (tf.getKernel('Conv2DBackpropFilter', backend) !== undefined) {
      row.dW = fig(timeIt(() => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy },
        { strides: stride, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, cin, cout] }) as tf.Tensor, n));
    } else {
      row.dW = `no Conv2DBackpropFilter kernel on ${backend}`;
    }
    tf.dispose([x, w, dy]);
    out[name] = row;
    const f = (k: string) => (typeof row[k] === 'string' ? 'n/a' : `${(row[k] as ConvFigures).gflops.toFixed(1)}`);
    log(`  [${backend}] conv ${name}: fwd ${f('forward')} / dX ${f('dX')} / dW ${f('dW')} GFLOP/s`);
  }
  return out;
}

function netBench(backend: string, n: number, canTrain: boolean): Record<string, number | string> {
  const net = resnet18();
  const out: Record<string, number | string> = {};
  log(`  [${backend}] ResNet-18: ${net.numParams.toLocaleString('en')} trainable parameters`);
  const opt = tf.train.momentum(0.01, 0.9);
  for (const b of batches) {
    const key = `train_step_b${b}`;
    if (!canTrain) {
      out[key] = `not run: ${backend} has no Conv2DBackpropFilter kernel, so it cannot train`;
      log(`  [${backend}] ${key}: ${out[key]}`);
      continue;
    }
    const x = tf.randomUniform([b, 32, 32, 3]) as tf.Tensor4D;
    const y = tf.oneHot(tf.randomUniform([b], 0, 10, 'int32'), 10);
    out[key] = timeIt(() => tf.tidy(() => opt.minimize(() =>
      tf.losses.softmaxCrossEntropy(y, net.forward(x, true)) as tf.Scalar, true, net.trainable)!.dataSync()[0]), n);
    log(`  [${backend}] ${key}: ${(out[key] as number).toFixed(3)} s`);
    tf.dispose([x, y]);
  }
  const b = 128;
  const x = tf.randomUniform([b, 32, 32, 3]) as tf.Tensor4D;
  const y = tf.oneHot(tf.randomUniform([b], 0, 10, 'int32'), 10);
  out.pgd_step_b128 = timeIt(() => tf.tidy(() => {
    const g = tf.grad((a: tf.Tensor) => tf.losses.softmaxCrossEntropy(y, net.forward(a as tf.Tensor4D, false)))(x);
    return tf.clipByValue(tf.add(x, tf.mul(tf.sign(g), 2 / 255)), 0, 1);
  }), n);
  log(`  [${backend}] pgd_step_b128: ${(out.pgd_step_b128 as number).toFixed(3)} s`);
  // The same step with fused convolutions (how tfjs-layers models run): tfjs's fused conv2d
  // gradient also asks for the filter gradient, which torch defers and so never computes here.
  if (canTrain) {
    out.pgd_step_b128_fused_convs = timeIt(() => tf.tidy(() => {
      const g = tf.grad((a: tf.Tensor) => tf.losses.softmaxCrossEntropy(y, net.forward(a as tf.Tensor4D, false, true)))(x);
      return tf.clipByValue(tf.add(x, tf.mul(tf.sign(g), 2 / 255)), 0, 1);
    }), n);
    log(`  [${backend}] pgd_step_b128_fused_convs: ${(out.pgd_step_b128_fused_convs as number).toFixed(3)} s`);
  } else {
    out.pgd_step_b128_fused_convs = `not run: tfjs's fused conv2d gradient needs Conv2DBackpropFilter, which ${backend} lacks`;
  }
  out.forward_b128 = timeIt(() => tf.tidy(() => net.forward(x, false)), n);
  log(`  [${backend}] forward_b128: ${(out.forward_b128 as number).toFixed(3)} s`);
  tf.dispose([x, y]);
  opt.dispose();
  net.dispose();
  return out;
}

async function profileTrainStep(): Promise<Array<{ kernel: string; ms: number; calls: number }>> {
  const net = resnet18();
  const opt = tf.train.momentum(0.01, 0.9);
  const x = tf.randomUniform([32, 32, 32, 3]) as tf.Tensor4D;
  const y = tf.oneHot(tf.randomUniform([32], 0, 10, 'int32'), 10);
  const step = () => opt.minimize(() => tf.losses.softmaxCrossEntropy(y, net.forward(x, true)) as tf.Scalar, true, net.trainable)!;
  tf.dispose(step());
  const info = await tf.profile(() => step());
  const agg = new Map<string, { ms: number; calls: number }>();
  for (const k of info.kernels) {
    const a = agg.get(k.name) ?? { ms: 0, calls: 0 };
    a.ms += Number(await k.kernelTimeMs); a.calls++;
    agg.set(k.name, a);
  }
  tf.dispose([x, y, ...info.result instanceof tf.Tensor ? [info.result] : []]);
  opt.dispose(); net.dispose();
  return [...agg.entries()].map(([kernel, v]) => ({ kernel, ...v })).sort((a, b) => b.ms - a.ms);
}

/** Seconds of one run of `fn`, with its results computed (torch: synchronised; others: read back). */
function measureOnce(fn: () => tf.Tensor | tf.Tensor[] | number): number {
  const t0 = process.hrtime.bigint();
  const r = fn();
  if (typeof r !== 'number') {
    const ts = Array.isArray(r) ? r : [r];
    if (tf.getBackend() === 'torch') {
      const be = tf.backend() as TorchBackend;
      for (const t of ts) be.handle(t);
      nativeBinding()!.synchronize();
    } else for (const t of ts) t.dataSync();
    tf.dispose(ts);
  }
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

const dispatched = () => kernelStats.native + kernelStats.fallback;

/**
 * The torch side's workloads (names as torch_bench.py's), on one ResNet-18. `fused`: batch norm,
 * the SGD-momentum update and the PGD step as the engine's fused calls; otherwise plain tfjs
 * (tf.moments + tf.batchNorm, tf.train.momentum, sign/mul/add/clipByValue).
 */
function torchWorkloads(fused: boolean) {
  const net = resnet18(10, 1, { fusedBatchNorm: fused });
  const opt = tf.train.momentum(0.01, 0.9);
  const velocity = net.trainable.map((v) => tf.tidy(() => tf.variable(tf.zerosLike(v), false)));
  const data = new Map<number, { x: tf.Tensor4D; y: tf.Tensor2D }>();
  const batch = (b: number) => {
    if (!data.has(b)) {
      // Kept: the first request may come from inside a workload's tidy.
      data.set(b, tf.tidy(() => ({ x: tf.keep(tf.randomUniform([b, 32, 32, 3]) as tf.Tensor4D),
        y: tf.keep(tf.oneHot(tf.randomUniform([b], 0, 10, 'int32'), 10) as tf.Tensor2D) })));
    }
    return data.get(b)!;
  };
  const trainStep = (b: number) => () => {
    const { x, y } = batch(b);
    const loss = () => tf.losses.softmaxCrossEntropy(y, net.forward(x, true)) as tf.Scalar;
    if (!fused) return tf.tidy(() => opt.minimize(loss, true, net.trainable)!.dataSync()[0]!);
    return tf.tidy(() => {
      const { value, grads } = tf.variableGrads(loss, net.trainable);
      sgdMomentumStep(net.trainable, velocity, net.trainable.map((v) => grads[v.name]!), { lr: 0.01, momentum: 0.9, weightDecay: 0 });
      return value.dataSync()[0]!;
    });
  };
  const pgdStep = (b: number) => () => tf.tidy(() => {
    const { x, y } = batch(b);
    const g = tf.grad((a: tf.Tensor) => tf.losses.softmaxCrossEntropy(y, net.forward(a as tf.Tensor4D, false)))(x);
    if (fused) return linfStep(x, g, x, 2 / 255, 8 / 255, 0, 1);
    return tf.clipByValue(tf.add(x, tf.mul(tf.sign(g), 2 / 255)), 0, 1);
  });
  const forward = (b: number) => () => tf.tidy(() => net.forward(batch(b).x, false));
  const run = (name: string): (() => tf.Tensor | number) => {
    const m = /^(train_step|pgd_step|forward)_b(\d+)$/.exec(name);
    if (!m) throw new Error(`bench/engine.ts: unknown workload '${name}'`);
    const b = Number(m[2]);
    return m[1] === 'train_step' ? trainStep(b) : m[1] === 'pgd_step' ? pgdStep(b) : forward(b);
  };
  /** Kernel calls one run of `name` dispatches on the backend (after a first, warm-up run). */
  const countKernels = (name: string): number => {
    measureOnce(run(name));
    const before = dispatched();
    measureOnce(run(name));
    return dispatched() - before;
  };
  const dispose = () => {
    for (const { x, y } of data.values()) tf.dispose([x, y]);
    tf.dispose(velocity); opt.dispose(); net.dispose();
  };
  return { run, countKernels, dispose, numParams: net.numParams };
}

async function main(): Promise<void> {
  const host = machine();
  // provenance: commit, the engine's build (libtorch, Winograd, Gloo), CPU model and date.
  const results: Record<string, unknown> = { date: host.date, provenance: provenance(), host, pairs, repeats, batches };
  const st = torchStatus();
  results.torchStatus = st;
  if (!st.available) throw new Error(`bench/engine.ts: the torch backend is unavailable: ${st.reason}`);

  log(`${host.cpuModel}, ${host.cpus} CPUs, load average ${host.loadavg.join(' ')} (${host.date})`);
  log(`torch backend: ${st.device}, ${st.numThreads} threads, libtorch ${st.torchVersion}`);
  await tf.setBackend('torch');
  const torchResults: Record<string, unknown> = {};
  results.torch = torchResults;
  if (useConv) torchResults.conv = convBench('torch', repeats);

  // Kernel calls per step, plain tfjs composition vs the fused calls, in the same run.
  const counts: Record<string, { plain: number; fused: number }> = {};
  for (const name of ['train_step_b32', 'pgd_step_b32']) {
    const plain = torchWorkloads(false);
    const fused = torchWorkloads(true);
    counts[name.replace('_b32', '')] = { plain: plain.countKernels(name), fused: fused.countKernels(name) };
    plain.dispose(); fused.dispose();
  }
  torchResults.kernelCallsPerStep = counts;
  for (const [k, c] of Object.entries(counts)) {
    log(`  [torch] kernel calls per ResNet-18 ${k.replace('_', ' ')}: ${c.plain} plain tfjs -> ${c.fused} fused (${(c.plain / c.fused).toFixed(2)}x fewer)`);
  }
  if (flag('profile')) results.torchProfile = await profileTrainStep();

  // What the Winograd convolutions bring, on the engine alone: the same steps with them on and off.
  const wino = winogradStatus();
  log(`  [torch] Winograd 3x3 convolutions: ${wino === null || !wino.built ? 'not built into the addon (no oneDNN headers at build time)'
    : !wino.supported ? 'not available on this CPU (needs AVX-512)' : wino.enabled ? 'on' : 'off (TFJS_TORCH_WINOGRAD=0)'}`);
  if (wino?.built && wino.supported && wino.enabled && !flag('no-winograd-ab')) {
    const side = torchWorkloads(true);
    const ab: Record<string, RatioFigures> = {};
    log(`\ntorch with Winograd vs without, interleaved, ${pairs} pairs (time ratio, < 1: Winograd faster):`);
    try {
      for (const name of batches.map((b) => `train_step_b${b}`)) {
        const fn = side.run(name);
        ab[name] = await interleave(pairs, () => { setWinograd(true); return measureOnce(fn); },
          () => { setWinograd(false); return measureOnce(fn); });
        log(`  ${name}: ${formatRatio(ab[name]!)}  [load ${machine().loadavg.join(' ')}]`);
      }
    } finally {
      setWinograd(true);
      side.dispose();
    }
    torchResults.winogradOverDirect = ab;
  }

  const workloads = [...batches.map((b) => `train_step_b${b}`), 'pgd_step_b128', 'forward_b128'];
  const unavailable = usePython ? PytorchServer.unavailable(python) : 'disabled by --no-python';
  if (unavailable !== undefined) {
    results.pytorch = `not run: ${unavailable}`;
    log(`PyTorch: ${results.pytorch}`);
  } else {
    const threads = st.numThreads ?? os.cpus().length;
    const env = { ...process.env, OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY ?? 'PASSIVE' };
    const server = new PytorchServer(python, path.join(here, 'torch_bench.py'),
      ['--threads', String(threads), '--device', st.device === 'cuda' ? 'cuda' : 'cpu'], env);
    const side = torchWorkloads(true);
    const ratios: Record<string, RatioFigures> = {};
    log(`\ntorch (fused calls) vs PyTorch ${python}, interleaved, ${pairs} pairs after a warm-up each (time ratio, < 1: torch faster):`);
    try {
      for (const name of workloads) {
        const fn = side.run(name);
        ratios[name] = await interleave(pairs, () => measureOnce(fn), () => server.measure(name));
        log(`  ${name}: ${formatRatio(ratios[name]!)}  [load ${machine().loadavg.join(' ')}]`);
      }
    } finally {
      server.close();
      side.dispose();
    }
    results.torchOverPytorch = ratios;
  }

  if (useWasm) {
    try {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      const dist = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
      wasm.setWasmPaths(`${dist}/`);
      if (!(await tf.setBackend('wasm'))) throw new Error('setBackend(wasm) failed');
      log('wasm backend (sequential medians, not interleaved)');
      const canTrain = tf.getKernel('Conv2DBackpropFilter', 'wasm') !== undefined;
      if (!canTrain) log('  [wasm] no Conv2DBackpropFilter kernel: wasm cannot train (train steps and conv dW are not run)');
      results.wasm = { conv: useConv ? convBench('wasm', 1) : 'not run (--no-conv)', net: netBench('wasm', 1, canTrain) };
    } catch (err) {
      results.wasm = `not run: ${(err as Error).message}`;
      log(`wasm: ${results.wasm}`);
    }
  }
  results.loadavgAtEnd = os.loadavg();

  const tmp = `${outPath}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(results, null, 2));
  fs.renameSync(tmp, outPath);
  log(`\nwrote ${outPath}`);
}

main().catch((err) => {
  console.error(err instanceof Error ? (process.env.BENCH_DEBUG ? err.stack : err.message) : err);
  process.exit(1);
});
