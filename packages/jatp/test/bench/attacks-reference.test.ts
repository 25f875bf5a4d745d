// The PyTorch twin of bench:attacks part (b) (bench/reference_models.py) must compute the
// toolkit's CPU-preset full model T(clip01(P(x))), or the bench compares different functions.
// Checked against the tfjs `cpu` backend on the files the bench itself writes (agreement is
// about 2e-7; the deliberate errors below and a LeakyReLU slope or BN epsilon slip give >= 5e-4). Skipped when
// /usr/bin/python3 cannot import torch (python3-torch), except under CI=true, where that fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { PY, REFERENCE_SCRIPT, hasTorch, maxAbsDiff, noTorch, probeReference } from './reference-probe.js';
import { buildCpuPresetFullModel, probeFullModel, writeFullModelForReference } from '../../bench/attacks-full-model.js';

await tf.setBackend('cpu');
// Under CI=true (.ci/run installs python3-torch) a missing PyTorch fails instead of skipping.
const skip = hasTorch || process.env.CI === 'true' ? false : noTorch;

/** Gives every BN layer non-trivial running statistics and affine terms, so a BN port error shows. */
function randomiseBatchNorm(weights: Map<string, tf.Variable>, seed: number): void {
  let s = seed;
  for (const [name, v] of weights) {
    if (!name.endsWith('.running_var')) continue;
    const layer = name.slice(0, -'.running_var'.length);
    const n = v.shape[0]!;
    tf.tidy(() => {
      v.assign(tf.randomUniform([n], 0.3, 2, 'float32', s++));
      weights.get(`${layer}.running_mean`)!.assign(tf.randomNormal([n], 0, 0.3, 'float32', s++));
      weights.get(`${layer}.weight`)!.assign(tf.randomUniform([n], 0.5, 1.5, 'float32', s++));
      weights.get(`${layer}.bias`)!.assign(tf.randomNormal([n], 0, 0.2, 'float32', s++));
    });
  }
}


test('bench:attacks part (b): the PyTorch full model matches the toolkit (logits, P(x), T(x)) to 1e-5', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'jatp-bench-port-'));
  const nets = buildCpuPresetFullModel(5);
  const x = tf.randomUniform([3, 32, 32, 3], 0, 1, 'float32', 9) as tf.Tensor4D;
  const y = tf.tensor1d([1, 2, 3], 'int32');
  try {
    randomiseBatchNorm(nets.target.namedWeights(), 40);
    await writeFullModelForReference(dir, nets, x, y, 8 / 255);
    const ours = probeFullModel(nets, x);
    const theirs = probeReference(dir);
    assert.deepEqual(Object.keys(theirs).sort(), Object.keys(ours).sort());
    for (const [name, mine] of Object.entries(ours)) {
      assert.equal(theirs[name]!.length, mine.length, name);
      // Not vacuous: the outputs vary across images and units (a constant output would hide errors).
      assert.ok(Math.max(...mine) - Math.min(...mine) > 1e-2, `${name} is nearly constant`);
      const d = maxAbsDiff(mine, theirs[name]!);
      assert.ok(d < 1e-5, `max |${name} tfjs - PyTorch| = ${d}`);
    }

    // The same check sees a real port error: a stem kernel with its two input channels swapped
    // (what an HWIO -> OIHW mix-up does) must move T's logits well past the tolerance.
    const conv1 = nets.target.namedWeights().get('conv1.weight')!;
    tf.tidy(() => conv1.assign(tf.reverse(conv1, 2)));
    const swapped = probeFullModel(nets, x);
    assert.ok(maxAbsDiff(swapped['target_logits']!, theirs['target_logits']!) > 1e-3);
  } finally {
    tf.dispose([x, y]);
    nets.target.dispose();
    nets.purifier.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bench:attacks reference: a file naming an unknown model is refused', { skip }, () => {
  assert.ok(hasTorch, `CI=true, but ${noTorch}`);
  const dir = mkdtempSync(join(tmpdir(), 'jatp-bench-port-'));
  try {
    writeFileSync(join(dir, 'meta.json'), JSON.stringify({ model: 'vgg', eps: 0.03 }));
    // inputs.safetensors is read first; an empty-but-valid file keeps the error on the model name.
    const header = Buffer.from(JSON.stringify({ x: { dtype: 'F32', shape: [0, 32, 32, 3], data_offsets: [0, 0] }, y: { dtype: 'I32', shape: [0], data_offsets: [0, 0] } }));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    writeFileSync(join(dir, 'inputs.safetensors'), Buffer.concat([len, header]));
    const r = spawnSync(PY, [REFERENCE_SCRIPT, '--data', dir, '--attack', 'probe'], { encoding: 'utf8' });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /unknown model 'vgg'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
