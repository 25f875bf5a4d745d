/**
 * `npm run bench:engine`: the engine issue's benchmark (not a test).
 *
 *  - conv2d forward / dX / dW GFLOP/s at ResNet-18's CIFAR shapes (batch 32);
 *  - a ResNet-18 (CIFAR, 11.17 M params, plain tf ops, BN in training mode) train step with SGD
 *    momentum at batch 32 and 128;
 *  - one PGD step (gradient w.r.t. the input, BN in eval mode) and one forward pass at batch 128;
 * each on `torch` and on `wasm` where wasm can run it (it has no Conv2DBackpropFilter, so it cannot
 * train), and in PyTorch (bench/torch_bench.py) when /usr/bin/python3 can import torch; prints
 * ratios and writes every figure to --out (default bench-results.json). Medians over --repeats.
 *
 * Options: --out FILE  --repeats N (default 3; wasm uses 1)  --batches 32,128  --no-wasm
 *          --no-python  --python PATH (default /usr/bin/python3)  --profile (per-kernel times on torch)
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';

import { TorchBackend, nativeBinding, torchStatus } from '../src/index.js';
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

function runPython(threads: number, device: string): Record<string, unknown> | string {
  const probe = spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0) return `not run: ${python} cannot import torch`;
  const r = spawnSync(python, [path.join(here, 'torch_bench.py'), '--threads', String(threads), '--repeats', String(repeats),
    '--batches', batches.join(','), '--device', device], { encoding: 'utf8', timeout: 900_000 });
  if (r.status !== 0) return `failed: ${(r.stderr || r.error?.message || '').slice(-500)}`;
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

async function main(): Promise<void> {
  const results: Record<string, unknown> = {
    date: new Date().toISOString(), host: { cpus: os.cpus().length, model: os.cpus()[0]?.model, loadavg: os.loadavg() },
    repeats, batches,
  };
  const st = torchStatus();
  results.torchStatus = st;
  if (!st.available) throw new Error(`bench/engine.ts: the torch backend is unavailable: ${st.reason}`);

  log(`torch backend: ${st.device}, ${st.numThreads} threads, libtorch ${st.torchVersion}`);
  await tf.setBackend('torch');
  results.torch = { conv: convBench('torch', repeats), net: netBench('torch', repeats, true) };
  if (flag('profile')) results.torchProfile = await profileTrainStep();

  if (useWasm) {
    try {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      const dist = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
      wasm.setWasmPaths(`${dist}/`);
      if (!(await tf.setBackend('wasm'))) throw new Error('setBackend(wasm) failed');
      log('wasm backend');
      const canTrain = tf.getKernel('Conv2DBackpropFilter', 'wasm') !== undefined;
      if (!canTrain) log('  [wasm] no Conv2DBackpropFilter kernel: wasm cannot train (train steps and conv dW are not run)');
      results.wasm = { conv: convBench('wasm', 1), net: netBench('wasm', 1, canTrain) };
    } catch (err) {
      results.wasm = `not run: ${(err as Error).message}`;
      log(`wasm: ${results.wasm}`);
    }
  }
  if (usePython) {
    log(`PyTorch (${python}) ...`);
    results.pytorch = runPython(st.numThreads ?? os.cpus().length, st.device === 'cuda' ? 'cuda' : 'cpu');
    if (typeof results.pytorch === 'string') log(`PyTorch: ${results.pytorch}`);
  }

  // Ratios: > 1 means torch is faster.
  const t = (results.torch as { net: Record<string, number | string> }).net;
  const ratios: Record<string, number> = {};
  const w = results.wasm as { net?: Record<string, number | string> } | string | undefined;
  if (w && typeof w !== 'string' && w.net) {
    for (const k of ['forward_b128', 'pgd_step_b128']) {
      if (typeof w.net[k] === 'number') ratios[`wasm_over_torch_${k}`] = (w.net[k] as number) / (t[k] as number);
    }
  }
  const p = results.pytorch as { seconds?: Record<string, number> } | string | undefined;
  if (p && typeof p !== 'string' && p.seconds) {
    for (const [k, v] of Object.entries(p.seconds)) {
      if (typeof t[k] === 'number') ratios[`torch_over_pytorch_${k}`] = (t[k] as number) / v;
    }
  }
  const tn = t;
  if (typeof tn.pgd_step_b128_fused_convs === 'number' && typeof tn.pgd_step_b128 === 'number') {
    // ~1 means the unused filter gradient of fused convolutions costs nothing (it is deferred).
    ratios.torch_pgd_fused_convs_over_plain = tn.pgd_step_b128_fused_convs / tn.pgd_step_b128;
  }
  results.ratios = ratios;
  log('\nratios (wasm_over_torch: speed-up of torch over wasm, goal >= 5; torch_over_pytorch: time ratio, goal <= 1.2):');
  for (const [k, v] of Object.entries(ratios)) log(`  ${k}: ${v.toFixed(2)}`);

  const tmp = `${outPath}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(results, null, 2));
  fs.renameSync(tmp, outPath);
  log(`\nwrote ${outPath}`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
