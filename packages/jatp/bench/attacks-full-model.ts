/**
 * Part (b) of bench/attacks.ts: the CPU-preset full model F(x) = T(clip01(P(x))) (spec §2.8) on
 * 32x32x3 images: P the JATP purifier with the `cpu` defense preset's options (nf 16, gc 8, nb 1),
 * T the narrow ResNet-18 (width 8) that the `cpu` experiment scale trains on colour data; both
 * built with the toolkit's registry builders, both in inference mode.
 *
 * Weights: seeded PyTorch-default initialisation, then --full-train-steps Adam steps (lr 1e-3,
 * batch 32) on CIFAR-10 training images with loss CE(F(x), y) + MSE(P(x), x), so that T classifies
 * some images correctly (the attacks have work to do) and P stays an image-to-image map, as a
 * trained purifier is. Data: the JPEG-derived CIFAR-10 (data_batch_1 for the steps, test_batch for
 * the attacked images) when found, else synthetic images labelled by the untrained model itself
 * (no training then; said so in the output).
 *
 * With --full-runs TARGET,PURIFIER the networks are not built and trained here: a classifier and a
 * purifier trained by the toolkit's own recipes are loaded from their run folders (the library's
 * loader, the same files `jatp evaluate --model --preprocessor` would read), the attacked images
 * are the first --images test images of the dataset the target's sidecar records, and eps is that
 * dataset's threat model's (data/threat-model.ts). That is the robust full model the bench needs:
 * on the naturally trained one above every point falls to APGD-CE and AutoAttack's later stages
 * never run. The PyTorch twins exist for resnet18 and small-cnn targets and the jatp-purifier.
 *
 * For the reference both networks are written with the toolkit's PyTorch exporter
 * (models/pytorch.ts: PyTorch names and layouts, safetensors), which reference_models.py loads
 * with a strict load_state_dict.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as tf from '@tensorflow/tfjs-core';

import { parseCifarRecords } from '../src/data/cifar10.js';
import { loadDataset } from '../src/data/load-dataset.js';
import { threatModelOf } from '../src/data/threat-model.js';
import { readMaybeCompressed } from '../src/data/io.js';
import type { Split } from '../src/data/types.js';
import { defenseDefaults } from '../src/defenses/presets.js';
import { loadPipeline } from '../src/evaluation/load-pipeline.js';
import { SCALE_SETTINGS } from '../src/experiments/suite/scales.js';
import { fullModel, type FullModel } from '../src/models/full-model.js';
import { exportPytorch } from '../src/models/pytorch.js';
import { buildClassifier, buildNetwork } from '../src/models/architectures.js';
import { writeSafetensors } from '../src/io/safetensors.js';
import type { Classifier, Network } from '../src/models/types.js';
import { Adam } from '../src/training/optim.js';
import type { BenchModel } from './attacks-model.js';
import { hostTensor } from './attacks-small-cnn.js';

const log = (m: string): void => void process.stderr.write(`${m}\n`);
const SIDE = 32;
const CHANNELS = 3;
const PIXELS = SIDE * SIDE * CHANNELS;
const JPEG_CIFAR = path.join('shared', 'data', 'cifar-10-jpeg-batches-bin', 'test_batch.bin');

/** The cpu-preset networks, seeded. */
export function buildCpuPresetFullModel(seed: number): { target: Classifier; purifier: Network; model: FullModel } {
  const targetSpec = SCALE_SETTINGS.cpu.targetConfig('standard', 'cifar10', seed);
  const purifierSpec = defenseDefaults('jatp', 'cpu').purifier;
  // attacks_reference.py rebuilds exactly these two architectures; a preset that changed them
  // needs a matching PyTorch twin there first.
  if (targetSpec.arch !== 'resnet18' || purifierSpec.arch !== 'jatp-purifier') {
    throw new Error(`bench/attacks.ts: the cpu preset now uses ${targetSpec.arch} + ${purifierSpec.arch}; reference_models.py only has resnet18 + jatp-purifier`);
  }
  const shape = { inChannels: CHANNELS, inputSize: SIDE };
  const target = buildClassifier(targetSpec.arch, { ...targetSpec.archOptions, ...shape, numClasses: 10, seed });
  const purifier = buildNetwork(purifierSpec.arch, { ...purifierSpec.options, ...shape, seed: seed + 1 });
  return { target, purifier, model: fullModel(target, purifier) };
}

/** Writes meta.json, target.safetensors, purifier.safetensors and inputs.safetensors for the reference. */
export async function writeFullModelForReference(dir: string, nets: { target: Classifier; purifier: Network }, x: tf.Tensor4D, y: tf.Tensor1D, eps: number): Promise<void> {
  await exportPytorch(nets.target, path.join(dir, 'target.safetensors'));
  await exportPytorch(nets.purifier, path.join(dir, 'purifier.safetensors'));
  await writeSafetensors(path.join(dir, 'inputs.safetensors'), new Map([['x', hostTensor(x)], ['y', hostTensor(y)]]));
  // targetArch tells attacks_reference.py which PyTorch twin to build for T.
  const meta = { model: 'full', eps, targetArch: nets.target.arch, target: nets.target.options, purifier: nets.purifier.options };
  fs.writeFileSync(path.join(dir, 'meta.json'), JSON.stringify(meta));
}

/**
 * F(x), P(x) before the clamp and T(x) alone, flattened, for the port check: T is checked on the
 * images themselves too, since clip01(P(x)) of an untrained P can be nearly constant and hide a
 * padding or layout error in T.
 */
export function probeFullModel(nets: { target: Classifier; purifier: Network; model: FullModel }, x: tf.Tensor4D): Record<string, Float32Array> {
  return tf.tidy(() => ({
    logits: Float32Array.from(nets.model.logits(x).dataSync()),
    purified: Float32Array.from(nets.purifier.apply(x, false).dataSync()),
    target_logits: Float32Array.from(nets.target.apply(x, false).dataSync()),
  }));
}

/** test_batch.bin: --cifar FILE, else `shared/data/...` beside the repository or one level above. */
function findCifarTest(explicit: string | undefined): string | undefined {
  if (explicit !== undefined) {
    if (!fs.existsSync(explicit)) throw new Error(`--cifar: ${explicit} does not exist (expected a CIFAR-10 test_batch.bin)`);
    return explicit;
  }
  const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  return [path.join(repoRoot, '..', JPEG_CIFAR), path.join(repoRoot, '..', '..', JPEG_CIFAR)].find((f) => fs.existsSync(f));
}

function toTensors(split: Split, from: number, count: number): { x: tf.Tensor4D; y: tf.Tensor1D } {
  const px = Float32Array.from(split.images.subarray(from * PIXELS, (from + count) * PIXELS), (v) => v / 255);
  return { x: tf.tensor4d(px, [count, SIDE, SIDE, CHANNELS]), y: tf.tensor1d(split.labels.slice(from, from + count), 'int32') };
}

interface CifarData { x: tf.Tensor4D; y: tf.Tensor1D; trainX?: tf.Tensor4D; trainY?: tf.Tensor1D; source: string }

function loadCifar(file: string, images: number, trainCount: number): CifarData {
  const test = parseCifarRecords(readMaybeCompressed(file), file);
  if (test.count < images) throw new Error(`${file}: has ${test.count} images, --images asks for ${images}`);
  const attacked = toTensors(test, 0, images);
  const dir = path.dirname(file);
  const trainFile = ['data_batch_1.bin', 'data_batch_1.bin.br'].map((f) => path.join(dir, f)).find((f) => fs.existsSync(f));
  let train: { x: tf.Tensor4D; y: tf.Tensor1D };
  if (trainFile !== undefined) {
    const t = parseCifarRecords(readMaybeCompressed(trainFile), trainFile);
    train = toTensors(t, 0, Math.min(trainCount, t.count));
  } else {
    // Only the test batch is there: train on the test images after the attacked ones.
    log(`${dir} has no data_batch_1.bin: the training steps use test images ${images}.. instead`);
    train = toTensors(test, images, Math.min(trainCount, test.count - images));
  }
  return { ...attacked, trainX: train.x, trainY: train.y, source: 'JPEG-derived CIFAR-10 test' };
}

function train(nets: { target: Classifier; purifier: Network }, xs: tf.Tensor4D, ys: tf.Tensor1D, steps: number, batch: number): void {
  const vars = [...nets.purifier.trainableVariables(), ...nets.target.trainableVariables()];
  const opt = new Adam(vars, { lr: 1e-3 });
  const n = xs.shape[0];
  for (let step = 0; step < steps && n > 0; step++) {
    const start = (step * batch) % Math.max(1, n - batch);
    tf.tidy(() => {
      const xb = tf.slice(xs, [start], [Math.min(batch, n)]) as tf.Tensor4D;
      const yb = tf.oneHot(tf.slice(ys, [start], [Math.min(batch, n)]), 10);
      const { grads } = tf.variableGrads(() => {
        const p = nets.purifier.apply(xb, true) as tf.Tensor4D;
        const logits = nets.target.apply(tf.clipByValue(p, 0, 1), true) as tf.Tensor2D;
        return tf.add(tf.losses.softmaxCrossEntropy(yb, logits), tf.losses.meanSquaredError(xb, p)) as tf.Scalar;
      }, vars);
      opt.applyGradients(grads);
    });
  }
  opt.dispose();
}

function accuracy(model: FullModel, x: tf.Tensor4D, y: tf.Tensor1D): number {
  return tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(model.logits(x), 1), y), 'float32')).dataSync()[0]!);
}

/** The full model of part (b), trained `trainSteps` Adam steps, with `images` attacked images. */
export async function fullModelBench(opts: { images: number; trainSteps: number; cifar?: string }): Promise<BenchModel> {
  const eps = 8 / 255;
  const nets = buildCpuPresetFullModel(0);
  const file = findCifarTest(opts.cifar);
  let data: CifarData;
  let trained = 'untrained (synthetic data)';
  if (file !== undefined) {
    data = loadCifar(file, opts.images, Math.max(1000, 32 * opts.trainSteps));
    const t0 = performance.now();
    train(nets, data.trainX!, data.trainY!, opts.trainSteps, 32);
    trained = `${opts.trainSteps} Adam steps (batch 32, CE + pixel MSE, ${((performance.now() - t0) / 1000).toFixed(0)} s) on JPEG-derived CIFAR-10`;
    tf.dispose([data.trainX!, data.trainY!]);
  } else {
    log('JPEG-derived CIFAR-10 not found (shared/data/cifar-10-jpeg-batches-bin/test_batch.bin beside the repository, or --cifar FILE): synthetic images labelled by the untrained model');
    const x = tf.randomUniform([opts.images, SIDE, SIDE, CHANNELS], 0, 1, 'float32', 21) as tf.Tensor4D;
    const y = tf.tidy(() => tf.cast(tf.argMax(nets.model.logits(x), 1), 'int32')) as tf.Tensor1D;
    data = { x, y, source: 'synthetic' };
  }
  const { x, y } = data;
  const t = nets.target.options, p = nets.purifier.options;
  return {
    key: 'full',
    description: `full model T(clip01(P(x))): JATP purifier (nf ${p['nf']}, gc ${p['gc']}, nb ${p['nb']}) + ResNet-18 width ${t['width']}, ` +
      `${trained}; clean accuracy ${(100 * accuracy(nets.model, x, y)).toFixed(1)}% on ${x.shape[0]} ${data.source} images`,
    logits: nets.model.logits,
    x,
    y,
    data: data.source,
    eps,
    writeForReference: (dir) => writeFullModelForReference(dir, nets, x, y, eps),
    probe: () => probeFullModel(nets, x),
    dispose: () => {
      tf.dispose([x, y]);
      nets.target.dispose();
      nets.purifier.dispose();
    },
  };
}

/** Target architectures attacks_reference.py has a PyTorch twin for. */
const PORTED_TARGETS = ['resnet18', 'small-cnn'];

/**
 * Part (b) on a toolkit-trained pair: the classifier from `targetRun`, the purifier from
 * `purifierRun` (run folders or weights files), attacked on the first `images` test images of
 * the dataset the target was trained on, at that dataset's eps.
 */
export async function runFolderFullModelBench(opts: { images: number; targetRun: string; purifierRun: string }): Promise<BenchModel> {
  const pipeline = await loadPipeline({ model: opts.targetRun, preprocessor: opts.purifierRun });
  const target = pipeline.classifier;
  const purifier = pipeline.preprocessor;
  try {
    if (target === undefined || purifier === undefined) throw new Error('--full-runs: expected a classifier run folder and a purifier run folder');
    if (!PORTED_TARGETS.includes(target.arch)) throw new Error(`--full-runs: ${opts.targetRun} holds a '${target.arch}'; reference_models.py has PyTorch twins for ${PORTED_TARGETS.join(' and ')} only`);
    if (purifier.arch !== 'jatp-purifier') throw new Error(`--full-runs: ${opts.purifierRun} holds a '${purifier.arch}'; reference_models.py has a PyTorch twin for jatp-purifier only`);
    const dataset = pipeline.trainedOn;
    if (dataset === undefined) throw new Error(`--full-runs: ${opts.targetRun}'s sidecar records no dataset; the bench needs it to pick the test images and eps`);
    const ds = await loadDataset(dataset);
    const [h, w, c] = ds.imageShape;
    if (target.options['inChannels'] !== c || purifier.options['inChannels'] !== c) {
      throw new Error(`--full-runs: ${dataset} images have ${c} channel(s), the networks take ${String(target.options['inChannels'])} / ${String(purifier.options['inChannels'])}`);
    }
    if (ds.test.count < opts.images) throw new Error(`--images ${opts.images}: the ${dataset} test set has ${ds.test.count} images`);
    const pixels = h * w * c;
    const x = tf.tensor4d(Float32Array.from(ds.test.images.subarray(0, opts.images * pixels), (v) => v / 255), [opts.images, h, w, c]);
    const y = tf.tensor1d(ds.test.labels.slice(0, opts.images), 'int32');
    const eps = threatModelOf(dataset).eps;
    const nets = { target, purifier, model: fullModel(target, purifier) };
    const t = target.options, p = purifier.options;
    return {
      key: 'full',
      description: `full model T(clip01(P(x))) from run folders: ${purifier.arch} (nf ${p['nf']}, gc ${p['gc']}, nb ${p['nb']}, ${opts.purifierRun}) + ` +
        `${target.arch} width ${t['width']} (${opts.targetRun}); eps ${eps} (${dataset} threat model); ` +
        `clean accuracy ${(100 * accuracy(nets.model, x, y)).toFixed(1)}% on ${opts.images} ${dataset} test images`,
      logits: nets.model.logits,
      x,
      y,
      data: `${dataset} test`,
      eps,
      writeForReference: (dir) => writeFullModelForReference(dir, nets, x, y, eps),
      probe: () => probeFullModel(nets, x),
      dispose: () => {
        tf.dispose([x, y]);
        pipeline.dispose();
      },
    };
  } catch (err) {
    pipeline.dispose();
    throw err;
  }
}
