/**
 * Winograd vs the direct kernels per convolution shape (dev tool behind the Winograd rule in
 * native/ops_conv_winograd.cc, `ShapeQualifies`): one step = a fused 3x3 'same' convolution with
 * bias, its input gradient, read back; CPU time of 3 steps per run, the two paths interleaved
 * (setWinograd on/off) for --pairs runs each. Run on a build whose rule admits the shape being
 * measured: shapes the rule keeps direct read ~1.00x, since both runs then take the direct path.
 *
 *   npx tsx bench/winograd-shapes.ts [--pairs 8] [--shapes N:C:K:H,...]
 */
import { createRequire } from 'node:module';

import * as tf from '@tensorflow/tfjs-core';

import { setWinograd, winogradStatus } from '../src/index.js';
import { machine, median } from './interleave.js';

const require = createRequire(import.meta.url);
if (tf.getGradient('Conv2D') === undefined) require('@tensorflow/tfjs-core/dist/register_all_gradients');

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args[i + 1];
};
const pairs = Number(flag('--pairs') ?? 8);
if (!Number.isInteger(pairs) || pairs < 1) throw new Error(`--pairs: expected a positive integer, got ${flag('--pairs')}`);
/** Batch : input channels : output channels : map size. The purifiers' layers, a narrow and a full ResNet-18's. */
const DEFAULT_SHAPES = '100:16:16:28,100:48:16:28,32:16:16:16,32:32:32:32,32:32:32:8,32:64:64:32,32:64:64:16,128:64:64:32,32:128:128:16';
const shapes = (flag('--shapes') ?? DEFAULT_SHAPES).split(',').map((s) => {
  const v = s.split(':').map(Number);
  if (v.length !== 4 || v.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--shapes: expected N:C:K:H entries, got '${s}'`);
  return v as [number, number, number, number];
});

async function main(): Promise<void> {
  if (!(await tf.setBackend('torch'))) throw new Error('setBackend(torch) failed: is the addon built?');
  const status = winogradStatus();
  if (!status?.built || !status.supported) throw new Error(`no Winograd path here: ${JSON.stringify(status)}`);
  const host = machine();
  console.log(`${host.cpuModel}, ${host.cpus} CPUs, load ${host.loadavg.join(' ')}, ${host.date}; ${pairs} pairs of 3 steps per side`);
  const cpuMs = (): number => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e3;
  };
  for (const [n, c, k, h] of shapes) {
    const x = tf.randomNormal([n, h, h, c]) as tf.Tensor4D;
    const w = tf.randomNormal([3, 3, c, k]) as tf.Tensor4D;
    const b = tf.randomNormal([k]) as tf.Tensor1D;
    const step = (): void => tf.tidy(() => {
      const g = tf.grad((xi: tf.Tensor4D) => tf.sum(tf.fused.conv2d({ x: xi, filter: w, bias: b, strides: 1, pad: 'same' })))(x);
      g.dataSync();
    });
    const time = (on: boolean): number => {
      setWinograd(on);
      const t0 = cpuMs();
      for (let i = 0; i < 3; i++) step();
      return cpuMs() - t0;
    };
    time(true);
    time(false);
    const on: number[] = [];
    const off: number[] = [];
    for (let i = 0; i < pairs; i++) {
      on.push(time(true));
      off.push(time(false));
    }
    const ratios = on.map((v, i) => v / off[i]!);
    console.log(`N${n} C${c} K${k} ${h}x${h}: Winograd/direct CPU time ${median(ratios).toFixed(2)}x (min-max ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}); medians ${median(on).toFixed(1)} vs ${median(off).toFixed(1)} ms`);
    tf.dispose([x, w, b]);
  }
  setWinograd(true);
}
main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
