/**
 * What the engine's row-copy Concat and SplitV buy the cpu-scale JATP step
 * (`npx tsx packages/jatp/bench/train-steps-row-copy.ts [--pairs N] [--json FILE]`): the step of
 * bench/train-steps-jatp.ts (purifier nf 16 / gc 8 / nb 1, small-cnn target, batch 50, feature
 * attack K = 5) run with the row-copy path on and off (`setRowCopy`, native/ops_shape.cc; off is
 * ATen's cat and split, the engine before it) in one process, alternating: pair i runs on-then-off
 * for even i and off-then-on for odd i, so neither side always follows the other. Both sides train
 * the same purifier (a step's cost does not depend on the weights). Prints the median ratio on/off
 * of wall and process CPU time per step with its min-max, each side's medians, the row-copy calls
 * per step, the CPU model and the load average before and after.
 *
 * Before timing it checks that one step from the same weights, batch and seed gives the same loss
 * and the same purifier update on both paths (the copies are exact, so bit for bit).
 * Data: the first N Fashion-MNIST training images when /usr/share/datasets/fashion-mnist exists
 * (--fmnist DIR), else uniform noise.
 *
 * With --apgd-full TARGET_RUN,PURIFIER_RUN it times bench:attacks part (b)'s workload instead: one
 * APGD-CE run (100 iterations, seed 0) on --images (100) test images through the full model
 * T(clip01(P(x))) loaded from the two run folders, on and off alternating the same way, after
 * checking that both paths give the same adversarial images bit for bit.
 */
import fs from 'node:fs';

import * as tf from '@tensorflow/tfjs-core';
import { rowCopyStatus, setRowCopy } from 'tfjs-backend-torch';

import { apgdCe } from '../src/attacks/apgd.js';
import { initBackend } from '../src/backend.js';
import { readIdxDataset } from '../src/data/mnist.js';
import { machine, median } from '../../tfjs-backend-torch/bench/interleave.js';
import { positiveIntFlag } from './flags.js';
import { runFolderFullModelBench } from './attacks-full-model.js';
import { buildJatpStep } from './train-steps-jatp.js';
import { timed, type Timed } from './timing.js';

const args = process.argv.slice(2);
const pairs = positiveIntFlag(args, '--pairs', 10);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args[i + 1];
};
const fmnistDir = flag('--fmnist') ?? '/usr/share/datasets/fashion-mnist';
const jsonOut = flag('--json');


const backend = await initBackend();
if (backend !== 'torch' || rowCopyStatus() === null) throw new Error(`train-steps-row-copy: needs the torch engine, got '${backend}'`);
const host = machine();

/** Pairs of `work` with the path on and off, alternating which goes first. */
function alternate(work: () => void): { on: Timed[]; off: Timed[]; load0: number[]; load1: number[] } {
  const on: Timed[] = [];
  const off: Timed[] = [];
  const load0 = machine().loadavg;
  for (let i = 0; i < pairs; i++) {
    for (const side of i % 2 === 0 ? [true, false] : [false, true]) {
      setRowCopy(side);
      (side ? on : off).push(timed(work));
    }
  }
  setRowCopy(true);
  return { on, off, load0, load1: machine().loadavg };
}
const ms = (ts: Timed[], k: keyof Timed) => (1000 * median(ts.map((t) => t[k]))).toFixed(0);
function report(what: string, r: ReturnType<typeof alternate>, callsPerRun: number, data: string, extra: Record<string, unknown>): void {
  const wall = r.on.map((t, i) => t.seconds / r.off[i]!.seconds);
  const cpu = r.on.map((t, i) => t.cpuSeconds / r.off[i]!.cpuSeconds);
  console.log(`${what}, row-copy Concat/SplitV on / off (ATen's cat and split): wall ${median(wall).toFixed(3)} (min-max ${Math.min(...wall).toFixed(2)}-${Math.max(...wall).toFixed(2)}), ` +
    `CPU time ${median(cpu).toFixed(3)} (${Math.min(...cpu).toFixed(2)}-${Math.max(...cpu).toFixed(2)}) over ${pairs} pairs; medians wall ${ms(r.on, 'seconds')} vs ${ms(r.off, 'seconds')} ms, ` +
    `CPU ${ms(r.on, 'cpuSeconds')} vs ${ms(r.off, 'cpuSeconds')} ms; ${callsPerRun} row-copy calls per run; ${data}; ` +
    `load average ${r.load0.join(' ')} -> ${r.load1.join(' ')}; ${host.cpuModel}, ${host.cpus} CPUs, ${host.date}`);
  if (jsonOut) {
    fs.writeFileSync(jsonOut, `${JSON.stringify({ workload: what, machine: host, data, pairs, ...extra, rowCopyCallsPerRun: callsPerRun, on: r.on, off: r.off,
      wallRatio: { median: median(wall), min: Math.min(...wall), max: Math.max(...wall) }, cpuRatio: { median: median(cpu), min: Math.min(...cpu), max: Math.max(...cpu) },
      loadavgBefore: r.load0, loadavgAfter: r.load1 }, null, 2)}\n`);
  }
}

const apgdFull = flag('--apgd-full');
if (apgdFull !== undefined) {
  const [targetRun, purifierRun] = apgdFull.split(',');
  if (!targetRun || !purifierRun) throw new Error(`--apgd-full: expected TARGET_RUN,PURIFIER_RUN, got '${apgdFull}'`);
  const bm = await runFolderFullModelBench({ images: positiveIntFlag(args, '--images', 100), targetRun, purifierRun });
  const attack = () => apgdCe({ eps: bm.eps }).run(bm.logits, bm.x, bm.y, 0);
  const advs: Uint32Array[] = [];
  for (const side of [true, false]) {
    setRowCopy(side);
    const r = attack();
    advs.push(new Uint32Array(Float32Array.from(r.xAdv.dataSync() as Float32Array).buffer));
    r.xAdv.dispose();
  }
  const same = advs[0]!.length === advs[1]!.length && advs[0]!.every((v, i) => v === advs[1]![i]);
  console.error(`APGD-CE from the same start: adversarial images ${same ? 'identical' : 'DIFFERENT'} on both paths`);
  if (!same) process.exitCode = 1;
  setRowCopy(true);
  const c0 = rowCopyStatus()!.calls;
  const work = () => attack().xAdv.dispose();
  work();
  const calls = rowCopyStatus()!.calls - c0;
  report(`APGD-CE through the full model (${bm.description})`, alternate(work), calls, `${bm.x.shape[0]} ${bm.data} images`, { sameAdversarials: same });
  bm.dispose();
  process.exit();
}

const batchSize = 50;
let x: tf.Tensor4D, y: tf.Tensor1D, source: string;
if (fs.existsSync(fmnistDir)) {
  const ds = readIdxDataset(fmnistDir, 'fashion-mnist');
  x = tf.tensor4d(Float32Array.from(ds.train.images.subarray(0, batchSize * 784), (v) => v / 255), [batchSize, 28, 28, 1]);
  y = tf.tensor1d(ds.train.labels.slice(0, batchSize), 'int32');
  source = `Fashion-MNIST training images 0..${batchSize - 1}`;
} else {
  x = tf.randomUniform([batchSize, 28, 28, 1], 0, 1, 'float32', 1) as tf.Tensor4D;
  y = tf.tensor1d(Array.from({ length: batchSize }, (_, i) => i % 10), 'int32');
  source = 'uniform noise';
}

// Same weights, batch and seed on both paths: the same loss and the same updated weights, bit for bit.
const updated: Array<{ loss: string; weights: Float32Array[] }> = [];
for (const on of [true, false]) {
  setRowCopy(on);
  const s = buildJatpStep(0, { x, y });
  const r = s.recipe.step(s.batch, { main: s.optimizer }, 1);
  updated.push({ loss: JSON.stringify(r), weights: s.recipe.variableGroups()['main']!.map((w) => Float32Array.from(w.dataSync() as Float32Array)) });
  s.dispose();
}
const [a, b] = updated as [(typeof updated)[0], (typeof updated)[0]];
const sameWeights = a.weights.length === b.weights.length && a.weights.every((w, i) => w.length === b.weights[i]!.length && w.every((v, j) => Object.is(v, b.weights[i]![j])));
const sameLoss = a.loss === b.loss;
console.error(`one step from the same start: losses ${a.loss} vs ${b.loss}; ${a.weights.length} purifier tensors ${sameWeights ? 'identical' : 'DIFFERENT'}`);
if (!sameWeights || !sameLoss) process.exitCode = 1;

const s = buildJatpStep(0, { x, y });
const opt = { main: s.optimizer };
let seed = 2;
const step = (): void => void s.recipe.step(s.batch, opt, seed++);
setRowCopy(true);
step();
const c0 = rowCopyStatus()!.calls;
step();
const rowCopyCallsPerStep = rowCopyStatus()!.calls - c0;
setRowCopy(false);
step();
report('JATP step', alternate(step), rowCopyCallsPerStep, source, { sameUpdate: sameWeights && sameLoss });
s.dispose();
tf.dispose([x, y]);
