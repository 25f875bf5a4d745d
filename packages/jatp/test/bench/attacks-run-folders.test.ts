// bench:attacks part (b) with --full-runs: a target and a JATP purifier loaded from run folders
// (the library's loader), on the recorded dataset's test images at its threat model's eps, must be
// the function the PyTorch twin (bench/reference_models.py: RegistrySmallCnn + JatpPurifier)
// computes, or the bench compares different functions. Checked on the tfjs `cpu` backend with
// run folders written here (seeded weights, non-trivial BN statistics); optionally also on a real
// trained pair named by JATP_BENCH_FULL_RUNS=TARGET_RUN,PURIFIER_RUN. Skipped when /usr/bin/python3
// cannot import torch (fails instead under CI=true) or Fashion-MNIST is not installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { hasTorch, maxAbsDiff, noTorch, probeReference } from './reference-probe.js';
import { loadDataset } from '../../src/data/load-dataset.js';
import { buildNetwork } from '../../src/models/architectures.js';
import { saveNetwork } from '../../src/models/weights.js';
import { runFolderFullModelBench } from '../../bench/attacks-full-model.js';

await tf.setBackend('cpu');
const hasFashion = await loadDataset('fashion-mnist').then(() => true, () => false);
const skip = !hasFashion
  ? 'Fashion-MNIST is not installed (Debian fashion-mnist under /usr/share/datasets); the run-folder bench model attacks its test images'
  : hasTorch || process.env.CI === 'true' ? false : noTorch;


/** Bench model from two run folders, its probe, and PyTorch's probe of the files it writes. */
async function bothProbes(targetRun: string, purifierRun: string, images: number) {
  const bm = await runFolderFullModelBench({ images, targetRun, purifierRun });
  const dir = mkdtempSync(join(tmpdir(), 'jatp-bench-runs-'));
  try {
    await bm.writeForReference(dir);
    return { eps: bm.eps, data: bm.data, ours: bm.probe(), theirs: probeReference(dir) };
  } finally {
    bm.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

function assertAgree(ours: Record<string, Float32Array>, theirs: Record<string, number[]>, tol: number): void {
  assert.deepEqual(Object.keys(theirs).sort(), ['logits', 'purified', 'target_logits']);
  for (const [name, mine] of Object.entries(ours)) {
    assert.equal(theirs[name]!.length, mine.length, name);
    assert.ok(Math.max(...mine) - Math.min(...mine) > 1e-2, `${name} is nearly constant`);
    const scale = Math.max(1, ...theirs[name]!.map(Math.abs));
    const d = maxAbsDiff(mine, theirs[name]!);
    assert.ok(d < tol * scale, `max |${name} tfjs - PyTorch| = ${d}`);
  }
}

test('bench:attacks --full-runs: run-folder small-cnn + jatp-purifier match their PyTorch twins, Fashion-MNIST eps 0.1', { skip }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'jatp-bench-runfolders-'));
  const shape = { inChannels: 1, inputSize: 28 };
  const target = buildNetwork('small-cnn', { ...shape, width: 8, numClasses: 10, seed: 3 });
  const purifier = buildNetwork('jatp-purifier', { ...shape, nf: 16, gc: 8, nb: 1, seed: 4 });
  try {
    // Non-trivial BN statistics and affine terms, so that a BN port error shows.
    let s = 50;
    for (const [name, v] of target.namedWeights()) {
      if (!name.includes('.bn.')) continue;
      const n = v.shape[0]!;
      tf.tidy(() => (v as tf.Variable).assign(name.endsWith('running_var') || name.endsWith('weight') ? tf.randomUniform([n], 0.4, 1.6, 'float32', s++) : tf.randomNormal([n], 0, 0.3, 'float32', s++)));
    }
    await saveNetwork(target, join(root, 'target', 'last', 'model.safetensors'), { dataset: 'fashion-mnist' });
    await saveNetwork(purifier, join(root, 'purifier', 'last', 'model.safetensors'), { dataset: 'fashion-mnist' });
    const good = await bothProbes(join(root, 'target'), join(root, 'purifier'), 4);
    assert.equal(good.eps, 0.1);
    assert.equal(good.data, 'fashion-mnist test');
    assertAgree(good.ours, good.theirs, 1e-5);

    // The same comparison sees a layout slip: the purifier's output conv with its input channels
    // reversed (an HWIO/OIHW mix-up) must move P(x) well past the tolerance.
    const w = purifier.namedWeights().get('trunk_conv.weight')! as tf.Variable;
    tf.tidy(() => w.assign(tf.reverse(w, 2)));
    await saveNetwork(purifier, join(root, 'purifier-swapped', 'last', 'model.safetensors'), { dataset: 'fashion-mnist' });
    const swapped = await runFolderFullModelBench({ images: 4, targetRun: join(root, 'target'), purifierRun: join(root, 'purifier-swapped') });
    try {
      assert.ok(maxAbsDiff(swapped.probe()['purified']!, good.theirs['purified']!) > 1e-3);
    } finally {
      swapped.dispose();
    }
  } finally {
    target.dispose();
    purifier.dispose();
    rmSync(root, { recursive: true, force: true });
  }
});

const realRuns = process.env.JATP_BENCH_FULL_RUNS?.split(',');
const realSkip = skip || (realRuns === undefined || realRuns.length !== 2 || !realRuns.every((p) => existsSync(p))
  ? 'JATP_BENCH_FULL_RUNS=TARGET_RUN,PURIFIER_RUN is not set to two existing run folders (a trained small-cnn target and its JATP purifier)'
  : false);

test('bench:attacks --full-runs: a trained pair (JATP_BENCH_FULL_RUNS) matches its PyTorch twins', { skip: realSkip }, async () => {
  const r = await bothProbes(realRuns![0]!, realRuns![1]!, 20);
  assertAgree(r.ours, r.theirs, 1e-5);
});
