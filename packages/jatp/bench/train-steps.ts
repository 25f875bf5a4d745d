/**
 * Training-step benchmark (`npm run bench:train-steps`): the experiments' JATP step at the `cpu`
 * scale on Fashion-MNIST (bench/train-steps-jatp.ts: JATP purifier nf 16 / gc 8 / nb 1 in front of
 * the frozen small-cnn width 8, batch 50, feature attack K = 5, loss α 5 β 3, SGD) and APE-G's step
 * (bench/train-steps-apeg.ts: one discriminator and two generator Adam updates on a paired batch of
 * 50) and NRP's (bench/train-steps-nrp.ts: one purifier and one discriminator Adam update on a paired
 * batch of 50 natural images and their SSP examples; the SSP crafting of the batch, which training
 * does once per image and caches, timed as a second workload 'nrp-ssp') with the torch engine, against the same steps in PyTorch (train_steps_reference.py; networks,
 * losses and attack in reference_models.py), on the same weights and batch.
 *
 * Before any timing the port is proven on the bench's own weights and batch: loss terms (relative
 * 1e-5), every trained parameter's gradient (1e-4 of its largest element; for the GANs, as close
 * to a float64 evaluation as PyTorch's float32) and, for JATP and NRP's SSP, the attack's output from a common start (at most 0.2% of its elements may differ, where a gradient
 * near 0 flips a sign step);
 * past that the bench prints the differences and exits non-zero. Then one warm-up step per side and
 * --pairs interleaved steps (toolkit, PyTorch, toolkit, ...), each side continuing its own training;
 * it prints the median time ratio toolkit / PyTorch with its min-max, the ratio of the two
 * processes' CPU times per step, kernel calls per toolkit step, the CPU model and the load average.
 * PyTorch gets the engine's thread count and OMP_WAIT_POLICY=PASSIVE unless the environment sets one.
 *
 * The networks are freshly initialised (not trained): a step's cost does not depend on the weights.
 * APE-G runs on uniform-noise images with a fixed ε-ball perturbation as the adversarial half
 * (training reads cached oblivious pairs; see the comment at its port check for why not real images).
 *
 * Flags: --steps LIST (jatp,apeg,nrp)  --pairs N (10)  --batch N (the preset's 50)  --fmnist DIR (/usr/share/datasets/fashion-mnist)
 *        --python PATH (/usr/bin/python3)  --json FILE (every time, the port report and the machine)
 * Backend: `initBackend` (torch when its addon loads; JATP_BACKEND to force one).
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

import * as tf from '@tensorflow/tfjs-core';
import { kernelStats, provenance, torchStatus } from 'tfjs-backend-torch';

import { initBackend } from '../src/backend.js';
import { randomStart } from '../src/attacks/ball-and-losses.js';
import { readIdxDataset } from '../src/data/mnist.js';
import { machine, median } from '../../tfjs-backend-torch/bench/interleave.js';
import { positiveIntFlag } from './flags.js';
import { apegPortHolds, buildApegStep, compareApegPorts, probeApegStep, writeApegStepForReference } from './train-steps-apeg.js';
import { buildNrpStep, compareNrpPorts, nrpPortHolds, probeNrpStep, writeNrpStepForReference, type NrpReferenceProbe } from './train-steps-nrp.js';
import { buildJatpStep, comparePorts, probeJatpStep, writeJatpStepForReference } from './train-steps-jatp.js';
import { timed, type Timed } from './timing.js';

const args = process.argv.slice(2);
const log = (m: string): void => void process.stderr.write(`${m}\n`);
function flagValue(name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith('--')) {
    console.error(`bench/train-steps.ts: ${name}: expected a value`);
    process.exit(1);
  }
  return v;
}
const pairs = positiveIntFlag(args, '--pairs', 10);
const fmnistDir = flagValue('--fmnist') ?? '/usr/share/datasets/fashion-mnist';
const python = flagValue('--python') ?? '/usr/bin/python3';
const jsonOut = flagValue('--json');
const STEPS = ['jatp', 'apeg', 'nrp'] as const;
const steps = (flagValue('--steps') ?? STEPS.join(',')).split(',');
for (const st of steps) {
  if (!(STEPS as readonly string[]).includes(st)) {
    console.error(`bench/train-steps.ts: --steps: expected a comma-separated list of ${STEPS.join(', ')}, got '${st}'`);
    process.exit(1);
  }
}
const here = path.dirname(fileURLToPath(import.meta.url));

/** The persistent PyTorch process: one step per request, wall and CPU seconds back. */
class ReferenceStepper {
  private readonly child;
  private readonly lines: AsyncIterator<string>;
  private stderr = '';
  constructor(dataDir: string, threads: number) {
    const env = { ...process.env, OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY ?? 'PASSIVE' };
    this.child = spawn(python, [path.join(here, 'train_steps_reference.py'), '--data', dataDir, '--mode', 'serve', '--threads', String(threads)], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr.on('data', (d: Buffer) => { this.stderr = (this.stderr + d.toString()).slice(-2000); });
    this.lines = readline.createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
  }
  async step(workload: string): Promise<{ seconds: number; cpuSeconds: number }> {
    this.child.stdin.write(`${workload}\n`);
    const next = await this.lines.next();
    if (next.done) throw new Error(`train_steps_reference.py exited: ${this.stderr}`);
    const r = JSON.parse(next.value) as { seconds?: number; cpuSeconds?: number; error?: string };
    if (r.seconds === undefined || r.cpuSeconds === undefined) throw new Error(`train_steps_reference.py: ${r.error ?? next.value}`);
    return { seconds: r.seconds, cpuSeconds: r.cpuSeconds };
  }
  close(): void {
    this.child.stdin.end();
  }
}

function loadBatch(batchSize: number): { x: tf.Tensor4D; y: tf.Tensor1D; source: string } {
  if (!fs.existsSync(fmnistDir)) {
    log(`${fmnistDir} not found (--fmnist DIR): a synthetic batch (uniform pixels, labels 0..9 in turn)`);
    return { x: tf.randomUniform([batchSize, 28, 28, 1], 0, 1, 'float32', 1) as tf.Tensor4D, y: tf.tensor1d(Array.from({ length: batchSize }, (_, i) => i % 10), 'int32'), source: 'synthetic' };
  }
  const ds = readIdxDataset(fmnistDir, 'fashion-mnist');
  const px = 28 * 28;
  const x = tf.tensor4d(Float32Array.from(ds.train.images.subarray(0, batchSize * px), (v) => v / 255), [batchSize, 28, 28, 1]);
  return { x, y: tf.tensor1d(ds.train.labels.slice(0, batchSize), 'int32'), source: `Fashion-MNIST training images 0..${batchSize - 1} (${ds.source})` };
}


/** Kernel calls of one toolkit step, one warm-up step, then `pairs` interleaved steps; prints the line. */
async function interleaveSteps(name: string, ourStep: () => void, dataDir: string, threads: number, host: ReturnType<typeof machine>): Promise<Record<string, unknown>> {
  ourStep();
  const before = kernelStats.native + kernelStats.fallback;
  ourStep();
  const callsPerStep = kernelStats.native + kernelStats.fallback - before;
  const ref = new ReferenceStepper(dataDir, threads);
  try {
    timed(ourStep);
    await ref.step(name);
    const toolkit: Timed[] = [];
    const reference: Timed[] = [];
    const load0 = machine().loadavg;
    for (let i = 0; i < pairs; i++) {
      toolkit.push(timed(ourStep));
      reference.push(await ref.step(name));
    }
    const wall = toolkit.map((t, i) => t.seconds / reference[i]!.seconds);
    const cpu = toolkit.map((t, i) => t.cpuSeconds / reference[i]!.cpuSeconds);
    const end = machine().loadavg;
    console.log(`${name} step: ${median(wall).toFixed(2)}x PyTorch's wall time (min-max ${Math.min(...wall).toFixed(2)}-${Math.max(...wall).toFixed(2)} over ${pairs} pairs; ` +
      `medians ${(1000 * median(toolkit.map((t) => t.seconds))).toFixed(0)} ms vs ${(1000 * median(reference.map((t) => t.seconds))).toFixed(0)} ms), ` +
      `CPU time ${median(cpu).toFixed(2)}x; ${callsPerStep} kernel calls per toolkit step; load average ${load0.join(' ')} -> ${end.join(' ')}; ${host.cpuModel}`);
    return { toolkit, reference, kernelCallsPerStep: callsPerStep, wallRatio: { median: median(wall), min: Math.min(...wall), max: Math.max(...wall) }, cpuRatio: median(cpu), loadavgBefore: load0, loadavgAfter: end };
  } finally {
    ref.close();
  }
}

function probeReference(dataDir: string, threads: number): unknown {
  const r = spawnSync(python, [path.join(here, 'train_steps_reference.py'), '--data', dataDir, '--mode', 'probe', '--threads', String(threads)], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`train_steps_reference.py probe failed: ${r.stderr.slice(-800)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

async function main(): Promise<void> {
  const backend = await initBackend();
  const threads = backend === 'torch' ? (torchStatus().numThreads ?? os.cpus().length) : 1;
  const host = machine();
  log(`bench:train-steps  ${host.cpuModel}, ${host.cpus} CPUs, backend ${backend}, threads ${threads}, load average ${host.loadavg.join(' ')} (${host.date})`);
  const presetBatch = buildJatpStep(0, { x: tf.zeros([1, 28, 28, 1]) as tf.Tensor4D, y: tf.tensor1d([0], 'int32') });
  const batchSize = positiveIntFlag(args, '--batch', presetBatch.config.batchSize);
  presetBatch.dispose();
  const data = loadBatch(batchSize);
  const torchProbe = spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' });
  if (torchProbe.status !== 0) {
    log(`${python} cannot import torch (apt-get install python3-torch): no comparison`);
    tf.dispose([data.x, data.y]);
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jatp-train-steps-'));
  const results: Record<string, unknown> = { provenance: provenance(), machine: host, backend, threads, batchSize, data: data.source };
  let portFailed = false;
  try {
    if (steps.includes('jatp')) {
      const s = buildJatpStep(0, { x: data.x, y: data.y });
      const jdir = path.join(dir, 'jatp');
      fs.mkdirSync(jdir);
      try {
        const o = s.recipe.options;
        log(`JATP step (cpu scale, ${data.source}): purifier ${JSON.stringify(s.purifier.options)}, target small-cnn ${JSON.stringify(s.target.options)}, ` +
          `feature '${s.recipe.featureName}', eps ${o.eps}, K ${o.attackSteps} x ${o.attackStepSize.toFixed(4)}, alpha ${o.loss.alpha} beta ${o.loss.beta}, batch ${batchSize}`);
        const start = randomStart(s.batch.x, 'Linf', o.eps, 11);
        const xAdv = s.recipe.craftAdversarial(s.batch.x, 12);
        await writeJatpStepForReference(jdir, s, xAdv, start);
        const ours = probeJatpStep(s, xAdv, start);
        tf.dispose([start, xAdv]);
        const port = comparePorts(ours, probeReference(jdir, threads) as Parameters<typeof comparePorts>[1]);
        log(`JATP port check: loss terms ${port.lossRelative.toExponential(1)} (relative), gradients ${port.gradRelative.toExponential(1)} (of the network's largest), ` +
          `x~ ${(100 * port.craftedMismatch).toFixed(3)}% of elements differ (max ${port.craftedMaxDiff.toExponential(1)})`);
        if (port.lossRelative < 1e-5 && port.gradRelative < 1e-4 && port.craftedMismatch < 2e-3) {
          const optimizers = { main: s.optimizer };
          let seed = 100;
          results.jatp = { port, ...(await interleaveSteps('jatp', () => void s.recipe.step(s.batch, optimizers, seed++), jdir, threads, host)) };
        } else {
          log('the PyTorch port does not compute the toolkit\'s JATP step (tolerances 1e-5, 1e-4, 0.2%): no timing');
          results.jatp = { port };
          portFailed = true;
        }
      } finally {
        s.dispose();
      }
    }
    if (steps.includes('apeg')) {
      // Uniform-noise images: on real Fashion-MNIST batches (large constant backgrounds) the GAN's
      // gradients are ill-conditioned in float32 — both sides land about 1e-3 of the largest
      // gradient away from a float64 evaluation, equally — so the port check would measure
      // float32 rounding, not the port. A step's cost does not depend on the pixel values.
      const natural = tf.randomUniform(data.x.shape, 0, 1, 'float32', 4) as tf.Tensor4D;
      const adversarial = tf.tidy(() => tf.clipByValue(tf.add(natural, tf.mul(tf.sign(tf.randomNormal(data.x.shape, 0, 1, 'float32', 5)), 0.1)), 0, 1)) as tf.Tensor4D;
      const s = buildApegStep(0, natural, adversarial, data.y);
      const adir = path.join(dir, 'apeg');
      fs.mkdirSync(adir);
      try {
        log(`APE-G step (cpu scale, uniform-noise images, adversarial half x + 0.1 sign(noise)): generator ${JSON.stringify(s.generator.options)}, ` +
          `discriminator ${JSON.stringify(s.discriminator.options)}, ${s.recipe.options.generatorSteps} generator updates per discriminator update, batch ${batchSize}`);
        await writeApegStepForReference(adir, s);
        const port = compareApegPorts(probeApegStep(s), probeReference(adir, threads) as Parameters<typeof compareApegPorts>[1]);
        const e = (v: number): string => v.toExponential(1);
        log(`APE-G port check: loss terms ${e(port.lossRelative)} (relative); gradients vs PyTorch float32 D ${e(port.gradRelativeD)}, G ${e(port.gradRelativeG)}; ` +
          `vs a float64 evaluation: ours D ${e(port.oursVs64.d)} G ${e(port.oursVs64.g)}, PyTorch float32 D ${e(port.torch32Vs64.d)} G ${e(port.torch32Vs64.g)} (of the network's largest gradient)`);
        if (apegPortHolds(port)) {
          let seed = 100;
          results.apeg = { port, ...(await interleaveSteps('apeg', () => void s.recipe.step(s.batch, s.optimizers, seed++), adir, threads, host)) };
        } else {
          log('the PyTorch port does not compute the toolkit\'s APE-G step (losses 1e-5; gradients as close to float64 as PyTorch\'s float32, within 2x): no timing');
          results.apeg = { port };
          portFailed = true;
        }
      } finally {
        s.dispose();
        tf.dispose([natural, adversarial]);
      }
    }
    if (steps.includes('nrp')) {
      const s = buildNrpStep(0, data.x, data.y);
      const ndir = path.join(dir, 'nrp');
      fs.mkdirSync(ndir);
      try {
        const o = s.ssp.options;
        log(`NRP step (cpu scale, ${data.source}, adversarial half = SSP): purifier ${JSON.stringify(s.purifier.options)}, discriminator ${JSON.stringify(s.discriminator.options)}, ` +
          `target small-cnn ${JSON.stringify(s.target.options)}, Φ '${s.recipe.featureName}', loss weights ${JSON.stringify(s.recipe.options.weights)}, ` +
          `SSP eps ${o.eps} K ${o.steps} x ${o.stepSize.toFixed(4)}, batch ${batchSize}`);
        const start = randomStart(s.natural, 'Linf', o.eps, 11);
        await writeNrpStepForReference(ndir, s, start);
        const ours = probeNrpStep(s, start);
        start.dispose();
        const port = compareNrpPorts(ours, probeReference(ndir, threads) as NrpReferenceProbe);
        const e = (v: number): string => v.toExponential(1);
        log(`NRP port check: loss terms ${e(port.lossRelative)} (relative); gradients vs PyTorch float32 P ${e(port.gradRelativeG)}, D ${e(port.gradRelativeD)}; ` +
          `vs a float64 evaluation: ours P ${e(port.oursVs64.g)} D ${e(port.oursVs64.d)}, PyTorch float32 P ${e(port.torch32Vs64.g)} D ${e(port.torch32Vs64.d)} (of the network's largest gradient); ` +
          `SSP ${(100 * port.craftedMismatch).toFixed(3)}% of elements differ (max ${e(port.craftedMaxDiff)})`);
        if (nrpPortHolds(port)) {
          let seed = 100;
          const step = await interleaveSteps('nrp', () => void s.recipe.step(s.batch, s.optimizers, seed++), ndir, threads, host);
          const sspTimes = await interleaveSteps('nrp-ssp', () => s.craftSsp(s.natural, seed++).dispose(), ndir, threads, host);
          results.nrp = { port, ...step, ssp: sspTimes };
        } else {
          log('the PyTorch port does not compute the toolkit\'s NRP step (losses 1e-5; gradients 1e-4 or as close to float64 as PyTorch\'s float32; SSP 0.2%): no timing');
          results.nrp = { port };
          portFailed = true;
        }
      } finally {
        s.dispose();
      }
    }
    if (portFailed) process.exitCode = 1;
  } finally {
    tf.dispose([data.x, data.y]);
    fs.rmSync(dir, { recursive: true, force: true });
    if (jsonOut !== undefined) {
      fs.writeFileSync(`${jsonOut}.tmp`, JSON.stringify(results, null, 2));
      fs.renameSync(`${jsonOut}.tmp`, jsonOut);
    }
  }
}

main().catch((err: unknown) => {
  console.error(`bench/train-steps.ts: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
