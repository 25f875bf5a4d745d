import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { buildNetwork, listArchs } from '../../src/models/architectures.js';
import type { Classifier } from '../../src/models/types.js';

await tf.setBackend('cpu');

// Spec §5c: parameter counts computed from the reference layer tables (BN affine included,
// running statistics excluded). These are independent of our code: they come from the spec.
const SPEC_PARAMS: Record<string, number> = {
  resnet18: 11_173_962,
  'jatp-purifier': 2_161_795,
  nrp: 2_161_795,
  hgd: 11_033_984,
  'apeg-generator': 269_059,
  'apeg-discriminator': 373_889,
};

test('parameter counts equal spec §5c for every paper architecture', () => {
  for (const [arch, expected] of Object.entries(SPEC_PARAMS)) {
    const net = buildNetwork(arch);
    try {
      assert.equal(net.countParams(), expected, arch);
    } finally {
      net.dispose();
    }
  }
});

test('identity has no parameters and returns its input values', () => {
  const net = buildNetwork('identity');
  const x = tf.randomUniform([2, 32, 32, 3]) as tf.Tensor4D;
  const y = net.apply(x, false);
  assert.equal(net.countParams(), 0);
  assert.deepEqual(Array.from(y.dataSync()), Array.from(x.dataSync()));
  tf.dispose([x, y]);
  net.dispose();
});

test('ResNet-18 parameter count follows the closed form for width and classes', () => {
  // Closed form from the layer table (spec §3.1), written independently of the builder.
  const count = (w: number, c: number, k: number): number => {
    const conv = (i: number, o: number, ks: number): number => i * o * ks * ks;
    const bn = (o: number): number => 2 * o;
    let n = conv(c, w, 3) + bn(w);
    let inP = w;
    for (const [p, s] of [[w, 1], [2 * w, 2], [4 * w, 2], [8 * w, 2]] as const) {
      for (let i = 0; i < 2; i++) {
        const st = i === 0 ? s : 1;
        n += conv(inP, p, 3) + bn(p) + conv(p, p, 3) + bn(p);
        if (st !== 1 || inP !== p) n += conv(inP, p, 1) + bn(p);
        inP = p;
      }
    }
    return n + 8 * w * k + k;
  };
  const net = buildNetwork('resnet18', { width: 8, inChannels: 1, numClasses: 7, inputSize: 28 });
  assert.equal(net.countParams(), count(8, 1, 7));
  net.dispose();
});

test('every arch maps 32x32x3 and 28x28x1 inputs to the expected shapes', () => {
  const small: Record<string, Record<string, unknown>> = {
    resnet18: { width: 4 },
    'small-cnn': { width: 4 },
    'jatp-purifier': { nf: 8, gc: 4, nb: 1 },
    nrp: { nf: 8, gc: 4, nb: 1 },
    'nrp-discriminator': { numFeat: 4 },
    hgd: { widthScale: 0.0625 },
  };
  for (const arch of listArchs()) {
    for (const [size, ch] of [[32, 3], [28, 1]] as const) {
      const net = buildNetwork(arch, { ...(small[arch] ?? {}), inChannels: ch, inputSize: size });
      const x = tf.randomUniform([2, size, size, ch]) as tf.Tensor4D;
      const y = net.apply(x, false);
      const cls = (net as Partial<Classifier>).numClasses;
      if (cls !== undefined) assert.deepEqual(y.shape, [2, cls], `${arch} ${size}`);
      else if (arch.endsWith('discriminator')) assert.deepEqual(y.shape, [2, 1], `${arch} ${size}`);
      else assert.deepEqual(y.shape, [2, size, size, ch], `${arch} ${size}`);
      tf.dispose([x, y]);
      net.dispose();
    }
  }
});

test('ResNet-18 features: layer3 is 256x8x8 at 32x32 (spec §5c) and layer3.1.conv2 is exposed', () => {
  const net = buildNetwork('resnet18');
  assert.equal(net.defaultFeature, 'layer3');
  const x = tf.randomUniform([1, 32, 32, 3]) as tf.Tensor4D;
  const { output, features } = net.applyWithFeatures(x, ['layer3', 'layer3.1.conv2', 'layer1', 'layer4'], false);
  assert.deepEqual(features['layer3']!.shape, [1, 8, 8, 256]);
  assert.deepEqual(features['layer3.1.conv2']!.shape, [1, 8, 8, 256]);
  assert.deepEqual(features['layer1']!.shape, [1, 32, 32, 64]);
  assert.deepEqual(features['layer4']!.shape, [1, 4, 4, 512]);
  // layer3 is after ReLU: non-negative; the raw conv output has both signs.
  assert.ok(tf.min(features['layer3']!).dataSync()[0]! >= 0);
  assert.ok(tf.min(features['layer3.1.conv2']!).dataSync()[0]! < 0);
  const plain = net.apply(x, false);
  assert.ok(tf.max(tf.abs(tf.sub(plain, output))).dataSync()[0]! < 1e-5);
  assert.throws(() => net.applyWithFeatures(x, ['layer9'], false), /unknown feature name.*layer9.*layer3/);
  tf.dispose([x, output, plain, ...Object.values(features)]);
  net.dispose();
});

test('batch norm: training=true uses batch stats and updates running stats with torch momentum 0.1', () => {
  const net = buildNetwork('small-cnn', { width: 2, seed: 1 });
  const w = net.namedWeights();
  const rm = w.get('block1.0.bn.running_mean')!;
  const before = Array.from(rm.dataSync());
  assert.deepEqual(before, [0, 0]);
  const x = tf.randomUniform([4, 32, 32, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
  // Independent reference: batch mean of the first conv's output, computed with tf ops on the kernel.
  const convOut = tf.conv2d(x, w.get('block1.0.conv.weight')! as tf.Tensor4D, 1, 'same');
  const batchMean = Array.from(tf.mean(convOut, [0, 1, 2]).dataSync());
  const yEval = net.apply(x, false);
  assert.deepEqual(Array.from(rm.dataSync()), before, 'eval mode must not touch running stats');
  const yTrain = net.apply(x, true);
  const after = Array.from(rm.dataSync());
  after.forEach((v, i) => assert.ok(Math.abs(v - 0.1 * batchMean[i]!) < 1e-5, `running_mean[${i}]=${v} vs ${0.1 * batchMean[i]!}`));
  assert.ok(tf.max(tf.abs(tf.sub(yEval, yTrain))).dataSync()[0]! > 1e-4, 'train and eval outputs should differ');
  tf.dispose([x, convOut, yEval, yTrain]);
  net.dispose();
});

test('named weights: PyTorch names, running stats not trainable, no leak after dispose', () => {
  const before = tf.memory().numTensors;
  const net = buildNetwork('resnet18', { width: 4 });
  const names = [...net.namedWeights().keys()];
  for (const n of ['conv1.weight', 'bn1.weight', 'bn1.bias', 'bn1.running_mean', 'bn1.running_var', 'layer1.0.conv1.weight', 'layer2.0.shortcut.0.weight', 'layer2.0.shortcut.1.running_mean', 'linear.weight', 'linear.bias']) {
    assert.ok(names.includes(n), n);
  }
  // stem conv + 4 BN tensors; 8 blocks x (2 convs + 2x4 BN); 3 shortcuts x (conv + 4 BN); linear w + b
  assert.equal(names.length, 5 + 8 * 10 + 3 * 5 + 2);
  const trainable = new Set(net.trainableVariables());
  assert.ok(!trainable.has(net.namedWeights().get('bn1.running_mean')!));
  assert.ok(trainable.has(net.namedWeights().get('bn1.weight')!));
  const x = tf.randomUniform([1, 32, 32, 3]) as tf.Tensor4D;
  const r = net.applyWithFeatures(x, ['layer3'], false);
  tf.dispose([r.output, ...Object.values(r.features)]);
  x.dispose();
  net.dispose();
  assert.equal(tf.memory().numTensors, before);
});

test('wrong input shape is rejected with the expected shape and options named', () => {
  const net = buildNetwork('small-cnn', { width: 2, inChannels: 1, inputSize: 28 });
  const x = tf.zeros([1, 32, 32, 3]) as tf.Tensor4D;
  assert.throws(() => net.apply(x, false), /small-cnn: input of shape \[1, 32, 32, 3\] does not match the expected NHWC \[N, 28, 28, 1\]/);
  assert.throws(() => buildNetwork('resnet18', { widht: 8 }), /resnet18: unknown option\(s\) widht/);
  assert.throws(() => buildNetwork('hgd', { widthScale: -1 }), /widthScale/);
  assert.throws(() => buildNetwork('resnet-19'), /unknown architecture 'resnet-19'; expected one of resnet18, small-cnn/);
  x.dispose();
  net.dispose();
});

test('BN running stats also update when the forward runs under tf.variableGrads (training step)', () => {
  const net = buildNetwork('small-cnn', { width: 2, seed: 2 });
  const rv = net.namedWeights().get('block3.0.bn.running_var')!;
  const before = Array.from(rv.dataSync());
  const x = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 4) as tf.Tensor4D;
  const { value, grads } = tf.variableGrads(() => tf.sum(net.apply(x, true)) as tf.Scalar, net.trainableVariables());
  const after = Array.from(rv.dataSync());
  assert.ok(after.some((v, i) => Math.abs(v - before[i]!) > 1e-6), 'running_var must move');
  assert.equal(Object.keys(grads).length, net.trainableVariables().length);
  tf.dispose([x, value, ...Object.values(grads)]);
  net.dispose();
});

test('no tensor growth: repeated train/eval forwards and feature taps for every arch', () => {
  const small: Record<string, Record<string, unknown>> = {
    resnet18: { width: 2 },
    'small-cnn': { width: 2 },
    'jatp-purifier': { nf: 4, gc: 2, nb: 1 },
    nrp: { nf: 4, gc: 2, nb: 1 },
    'nrp-discriminator': { numFeat: 2 },
    hgd: { widthScale: 0.03125 },
  };
  for (const arch of listArchs()) {
    const net = buildNetwork(arch, { ...(small[arch] ?? {}), inputSize: 16 });
    const x = tf.randomUniform([2, 16, 16, 3]) as tf.Tensor4D;
    const names = net.featureNames.slice(0, 2);
    const once = (): void => {
      tf.dispose(net.apply(x, true));
      tf.dispose(net.apply(x, false));
      const r = net.applyWithFeatures(x, names, true);
      tf.dispose([r.output, ...Object.values(r.features)]);
    };
    once();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) once();
    assert.equal(tf.memory().numTensors, before, arch);
    x.dispose();
    net.dispose();
  }
});
