/**
 * The dry run's batch-norm calibration of a barely trained target (`calibrateTargetBatchNorm`): after
 * it, the saved network gives in eval mode (running statistics) the same logits as in train mode
 * (batch statistics) on the training images it was calibrated on, which is what "running statistics
 * equal to those images' statistics" means layer by layer; before it they differ (init statistics).
 * The rewritten file loads with a valid checksum. Small ResNet-18 (width 8) on a generated folder.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { PNG } from 'pngjs';
import { initBackend } from '../../src/index.js';
import { calibrateTargetBatchNorm } from '../../src/experiments/suite/dry-run.js';
import { buildClassifier } from '../../src/models/architectures.js';
import { loadNetwork, saveNetwork } from '../../src/models/weights.js';
import { loadDataset } from '../../src/data/load-dataset.js';
import { firstPerClass } from '../../src/data/subset.js';
import { toFloatBatch } from '../../src/data/pipeline.js';
import type { Classifier } from '../../src/models/types.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'jatp-dry-bn-'));
before(async () => {
  await initBackend();
});
after(() => fs.rmSync(root, { recursive: true, force: true }));

function writeFolder(dir: string): void {
  for (const split of ['train', 'test']) {
    for (let c = 0; c < 10; c++) {
      const classDir = path.join(dir, split, `class${c}`);
      fs.mkdirSync(classDir, { recursive: true });
      const png = new PNG({ width: 32, height: 32 });
      for (let p = 0; p < 1024; p++) {
        for (let k = 0; k < 3; k++) png.data[4 * p + k] = (k === c % 3 ? 60 + 18 * c : 30) + ((p * 37 + k * 5) % 70);
        png.data[4 * p + 3] = 255;
      }
      fs.writeFileSync(path.join(classDir, '0.png'), PNG.sync.write(png));
    }
  }
}

/** Largest |eval logits - train logits| and largest |logit| of the network in `file` on `x`. */
async function evalTrainGap(file: string, x: tf.Tensor4D): Promise<{ gap: number; scale: number }> {
  const net = (await loadNetwork(file)) as Classifier;
  try {
    return tf.tidy(() => {
      const e = net.apply(x, false);
      const t = net.apply(x, true); // updates the loaded copy's statistics only; the file is not rewritten
      return { gap: tf.max(tf.abs(tf.sub(e, t))).dataSync()[0]!, scale: tf.max(tf.abs(t)).dataSync()[0]! };
    });
  } finally {
    net.dispose();
  }
}

test('calibrateTargetBatchNorm: eval mode equals train mode on the calibration images; file rewritten with its checksum', async () => {
  const data = path.join(root, 'data');
  writeFolder(data);
  const dataset = `folder:${data}`;
  const dir = path.join(root, 'target');
  fs.mkdirSync(path.join(dir, 'last'), { recursive: true });
  const file = path.join(dir, 'last', 'model.safetensors');
  const net = buildClassifier('resnet18', { width: 8, seed: 3 });
  await saveNetwork(net, file, { dataset });
  net.dispose();
  const ds = await loadDataset(dataset);
  const train = firstPerClass(ds.train, 1);
  const batch = toFloatBatch(train, Array.from({ length: train.count }, (_, i) => i), ds.imageShape);
  const start = tf.memory().numTensors;
  const before = await evalTrainGap(file, batch.x);
  assert.ok(before.gap > 1e-2 * before.scale, `init statistics: eval and train mode differ (gap ${before.gap}, scale ${before.scale})`);
  assert.equal(await calibrateTargetBatchNorm(dir, dataset), 1);
  const afterCal = await evalTrainGap(file, batch.x);
  assert.ok(afterCal.gap <= 1e-4 * Math.max(1, afterCal.scale), `calibrated: eval equals train mode (gap ${afterCal.gap}, scale ${afterCal.scale})`);
  assert.equal(JSON.parse(fs.readFileSync(path.join(dir, 'last', 'model.json'), 'utf8')).dataset, dataset, 'sidecar metadata kept');
  assert.equal(tf.memory().numTensors, start, 'no tensors left behind');
  tf.dispose([batch.x, batch.y]);
});
