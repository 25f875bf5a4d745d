/**
 * Where the cpu-scale JATP step's time goes (`npx tsx packages/jatp/bench/train-steps-profile.ts [steps] [jatp|nrp|nrp-ssp]`):
 * every kernel the torch backend registered is wrapped once to add up the process CPU time spent
 * inside it and its call count; after one warm-up step the recipe's step (bench/train-steps-jatp.ts,
 * 50 uniform-noise Fashion-MNIST-shaped images) runs `steps` times (3) and the kernels are listed by
 * CPU time per step, with the step's total CPU time beside them (the difference is the tfjs engine,
 * the tape and JS). `nrp` profiles NRP's step instead (bench/train-steps-nrp.ts, on the same images
 * and their SSP examples), `nrp-ssp` the SSP crafting of that batch.
 * Not interleaved with anything: compare two profiles only under similar load.
 */
import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend.js';
import { buildJatpStep } from './train-steps-jatp.js';
import { buildNrpStep } from './train-steps-nrp.js';
const backend = await initBackend();
if (backend !== 'torch') throw new Error(`train-steps-profile: needs the torch backend, got '${backend}'`);
const times = new Map<string, [number, number]>();
for (const k of tf.getKernelsForBackend('torch')) {
  const f = k.kernelFunc;
  (k as { kernelFunc: tf.KernelFunc }).kernelFunc = ((args: Parameters<tf.KernelFunc>[0]) => {
    const c0 = process.cpuUsage();
    const r = f(args);
    const c = process.cpuUsage(c0);
    const e = times.get(k.kernelName) ?? [0, 0];
    e[0] += (c.user + c.system) / 1000; e[1]++;
    times.set(k.kernelName, e);
    return r;
  }) as tf.KernelFunc;
}
const x = tf.randomUniform([50, 28, 28, 1], 0, 1, 'float32', 1) as tf.Tensor4D;
const y = tf.tensor1d(Array.from({ length: 50 }, (_, i) => i % 10), 'int32');
const workload = process.argv[3] ?? 'jatp';
let step: (i: number) => void;
if (workload === 'jatp') {
  const s = buildJatpStep(0, { x, y });
  const opt = { main: s.optimizer };
  step = (i) => void s.recipe.step(s.batch, opt, i);
} else if (workload === 'nrp' || workload === 'nrp-ssp') {
  const s = buildNrpStep(0, x, y);
  step = workload === 'nrp' ? (i) => void s.recipe.step(s.batch, s.optimizers, i) : (i) => s.craftSsp(s.natural, i).dispose();
} else {
  throw new Error(`workload: expected jatp, nrp or nrp-ssp, got '${workload}'`);
}
step(1);
times.clear();
const steps = Number(process.argv[2] ?? 3);
if (!(Number.isInteger(steps) && steps > 0)) throw new Error(`steps: expected a positive integer, got '${process.argv[2]}'`);
const c0 = process.cpuUsage();
for (let i = 0; i < steps; i++) step(2 + i);
const c = process.cpuUsage(c0);
let inK = 0;
const rows = [...times].sort((a, b) => b[1][0] - a[1][0]);
for (const [, [t]] of rows) inK += t;
console.log(`${workload}, ${new Date().toISOString()}, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}: ${((c.user + c.system) / 1000 / steps).toFixed(0)} ms CPU per step, ${(inK / steps).toFixed(0)} ms of it in kernels`);
for (const [n, [t, cnt]] of rows.slice(0, 25)) console.log(`${n.padEnd(28)} ${(t / steps).toFixed(1).padStart(8)} ms ${String(cnt / steps).padStart(6)} calls`);
