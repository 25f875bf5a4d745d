/**
 * `jatp train-target`: presets carry the spec §3.2 reference hyper-parameters, flags override
 * them and bad flags are named, and a tiny end-to-end run writes a run folder whose weights load
 * through models/weights.ts and which `--resume` continues.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type { Dataset } from '../../src/data/types.js';
import { loadNetwork } from '../../src/models/weights.js';
import { silentProgress } from '../../src/training/progress.js';
import { trainTarget, readTargetConfig, evaluateTarget } from '../../src/targets/train.js';
import { targetPreset } from '../../src/targets/presets.js';
import { applyTargetFlags, targetConfigFromFlags } from '../../src/cli/train-target.js';
import { parseMilestones } from '../../src/cli/flags.js';
import { listCheckpoints } from '../../src/training/loop.js';
import { readCheckpointFile } from '../../src/io/checkpoint-file.js';
import { tinySplit, TinyLinear } from './tiny.js';

await tf.setBackend('cpu');

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'jatp-tt-'));
process.on('exit', () => fs.rmSync(root, { recursive: true, force: true }));

test('paper presets hold the spec §3.2 reference settings', () => {
  const t = targetPreset('trades', 'paper', 'cifar10');
  assert.equal(t.arch, 'resnet18');
  assert.deepEqual(t.optimizer, { kind: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 2e-4 });
  assert.equal(t.batchSize, 128);
  assert.equal(t.beta, 6);
  assert.equal(t.augment, 'crop-flip');
  assert.deepEqual(t.attack, { eps: 8 / 255, stepSize: 0.007, steps: 10, startStd: 0.001 });
  const m = targetPreset('mart', 'paper', 'cifar10');
  assert.equal(m.optimizer.lr, 0.01);
  assert.equal(m.optimizer.weightDecay, 3.5e-3);
  assert.equal(m.beta, 6);
  assert.deepEqual(m.lrMilestones, [[75, 0.1], [90, 0.01], [100, 0.001]]);
  const s = targetPreset('standard', 'paper', 'svhn');
  assert.equal(s.optimizer.lr, 0.01, 'spec A12: SVHN lr 0.01');
  assert.equal(targetPreset('trades', 'cpu', 'fashion-mnist').attack.eps, 0.1);
});

test('every flag overrides the preset; --eps rescales the attack steps; bad values name the flag', () => {
  const base = targetPreset('trades', 'cpu', 'fashion-mnist');
  const c = applyTargetFlags(base, {
    preset: 'cpu',
    arch: 'resnet18',
    width: '4',
    epochs: '7',
    batchSize: '16',
    lr: '0.2',
    momentum: '0.5',
    weightDecay: '0',
    lrMilestones: '3:0.1,5:0.01',
    eps: '0.2',
    attackSteps: '3',
    beta: '2',
    perClass: '0',
    augment: 'crop-flip',
    evalPerClass: '5',
    evalSteps: '4',
    checkpointEvery: '9',
    seed: '11',
  });
  assert.equal(c.arch, 'resnet18');
  assert.deepEqual(c.archOptions, { width: 4 });
  assert.deepEqual([c.epochs, c.batchSize, c.optimizer.lr, c.optimizer.momentum, c.optimizer.weightDecay], [7, 16, 0.2, 0.5, 0]);
  assert.deepEqual(c.lrMilestones, [[3, 0.1], [5, 0.01]]);
  assert.equal(c.attack.eps, 0.2);
  assert.ok(Math.abs(c.attack.stepSize - 2 * base.attack.stepSize) < 1e-12);
  assert.deepEqual([c.attack.steps, c.beta, c.perClass, c.augment], [3, 2, undefined, 'crop-flip']);
  assert.deepEqual([c.evaluation.perClass, c.evaluation.pgdSteps, c.checkpointEverySteps, c.seed], [5, 4, 9, 11]);
  assert.ok(Math.abs(applyTargetFlags(base, { preset: 'cpu', eps: '8/255' }).attack.eps - 8 / 255) < 1e-12);
  assert.throws(() => applyTargetFlags(base, { preset: 'cpu', epochs: 'many' }), /--epochs: 'many'/);
  assert.throws(() => applyTargetFlags(base, { preset: 'cpu', arch: 'vgg' }), /--arch/);
  assert.throws(() => applyTargetFlags(targetPreset('standard', 'cpu', 'mnist'), { preset: 'cpu', beta: '1' }), /--beta applies/);
  assert.equal(applyTargetFlags(targetPreset('mma-original', 'cpu', 'fashion-mnist'), { preset: 'cpu', dMax: '0.2' }).dMax, 0.2);
  assert.throws(() => applyTargetFlags(base, { preset: 'cpu', dMax: '0.2' }), /--d-max applies/);
  assert.throws(() => parseMilestones('75-0.1'), /--lr-milestones/);
  assert.throws(() => targetConfigFromFlags({ preset: 'cpu', recipe: 'fgsm', out: 'x' }), /--recipe: 'fgsm'/);
  assert.throws(() => targetConfigFromFlags({ preset: 'cpu' }), /--out/);
});

function tinyDataset(): Dataset {
  const shape = [8, 8, 1] as const;
  return {
    name: 'tiny',
    imageShape: shape,
    numClasses: 3,
    classNames: ['a', 'b', 'c'],
    train: tinySplit(12, shape, 3, 5),
    test: tinySplit(6, shape, 3, 6),
    source: 'memory',
  };
}

test('end to end: a tiny TRADES run writes loadable last/ and best/ weights, eval metrics, and resumes', async () => {
  const ds = tinyDataset();
  const out = path.join(root, 'run');
  const config = {
    ...applyTargetFlags(targetPreset('trades', 'cpu', 'fashion-mnist'), { preset: 'cpu', width: '2', epochs: '2', batchSize: '6', attackSteps: '2', evalPerClass: '2', evalSteps: '2' }),
    dataset: 'tiny',
  };
  const before = tf.memory().numTensors;
  const first = await trainTarget({ config, out, dataset: ds, progress: silentProgress, stopAfterSteps: 3 });
  assert.equal(first.summary.interrupted, true);
  assert.deepEqual(readTargetConfig(out), config);
  const second = await trainTarget({ config: readTargetConfig(out), out, dataset: ds, resume: true, progress: silentProgress });
  assert.equal(tf.memory().numTensors, before, 'no tensors left behind');
  assert.equal(second.summary.epochsCompleted, 2);
  const ev = second.summary.lastEpoch!.eval;
  assert.ok(ev['cleanAcc']! >= 0 && ev['cleanAcc']! <= 100 && ev['pgdAcc']! <= ev['cleanAcc']! + 1e-9, JSON.stringify(ev));
  const net = await loadNetwork(second.weights);
  assert.equal(net.arch, 'small-cnn');
  assert.deepEqual((net.options as Record<string, unknown>)['inputSize'], 8);
  net.dispose();
  assert.ok(fs.existsSync(path.join(out, 'best', 'model.safetensors')));
  // `jatp train-target --resume <dir>` rebuilds the run from its config.json and refuses changes.
  const fromFlags = targetConfigFromFlags({ preset: 'paper', resume: out, epochs: '3' });
  assert.deepEqual(fromFlags, { config: { ...config, epochs: 3 }, out, resume: true });
  assert.throws(() => targetConfigFromFlags({ preset: 'paper', resume: out, lr: '0.5' }), /drop --lr/);
  assert.throws(() => targetConfigFromFlags({ preset: 'paper', resume: path.join(root, 'nowhere') }), /config\.json: not found/);
});

test('evaluateTarget: clean accuracy equals an argmax count done by hand; PGD cannot raise it', () => {
  const ds = tinyDataset();
  const net = new TinyLinear(ds.imageShape, 3, 21, 2);
  const r = evaluateTarget(net, ds.test, ds.imageShape, { eps: 0.3, pgdSteps: 3, pgdStepSize: 0.1, batchSize: 4, seed: 0 });
  const W = net.W.arraySync() as number[][];
  const bias = net.b.arraySync() as number[];
  let correct = 0;
  for (let i = 0; i < ds.test.count; i++) {
    const px = Array.from(ds.test.images.subarray(i * 64, (i + 1) * 64), (v) => v / 255);
    const z = bias.map((bk, k) => px.reduce((s, v, j) => s + v * W[j]![k]!, bk));
    if (z.indexOf(Math.max(...z)) === ds.test.labels[i]) correct++;
  }
  assert.ok(Math.abs(r.cleanAcc - (100 * correct) / ds.test.count) < 1e-9, `clean ${r.cleanAcc} vs ${correct}/${ds.test.count}`);
  assert.ok(r.pgdAcc <= r.cleanAcc);
  net.dispose();
});

test('original MMA through the loop: batch indices reach the recipe and margins are checkpointed', async () => {
  const ds = tinyDataset();
  const out = path.join(root, 'mma-original');
  const config = {
    ...applyTargetFlags(targetPreset('mma-original', 'cpu', 'fashion-mnist'), { preset: 'cpu', width: '2', epochs: '1', batchSize: '4', attackSteps: '2', evalPerClass: '0' }),
    dataset: 'tiny',
  };
  const r = await trainTarget({ config, out, dataset: ds, progress: silentProgress });
  assert.equal(r.summary.globalStep, 3);
  const ckpt = listCheckpoints(out)[0]!;
  const margins = readCheckpointFile(ckpt).tensors.get('state/mma.margins')!;
  assert.equal(margins.data.length, ds.train.count);
  const minEps = 0.005 * (0.1 / (8 / 255));
  assert.ok([...margins.data].every((v) => Math.abs(v - minEps) > 1e-7), `every example visited once updates its margin: ${[...margins.data]}`);
});
