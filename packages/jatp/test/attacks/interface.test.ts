/**
 * The one attack shape: every attack runs on a plain x -> logits function, a tf.LayersModel, a
 * tf.GraphModel, one of our networks and a FullModel, and gives the same adversarial examples for the
 * same seed whichever form the (same) model is handed in. Synthetic data, tiny budgets, cpu backend.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { loadGraphModel } from '@tensorflow/tfjs-converter';
import type { Attack } from '../../src/attacks/types.js';
import { asLogitsFn, prepareRun } from '../../src/attacks/model.js';
import { isEot } from '../../src/attacks/ball-and-losses.js';
import { pgd, pgdDlr } from '../../src/attacks/pgd.js';
import { apgdCe, apgdT } from '../../src/attacks/apgd.js';
import { autoAttackCustom } from '../../src/attacks/autoattack.js';
import { fabT } from '../../src/attacks/fab.js';
import { square } from '../../src/attacks/square.js';
import { fwa } from '../../src/attacks/fwa.js';
import { tiBim } from '../../src/attacks/tibim.js';
import { featureAttack } from '../../src/attacks/feature-attack.js';
import { buildAttack, parseAttackSpec } from '../../src/attacks/attack-specs.js';
import { ensureGradients } from '../../src/gradients.js';
import { buildClassifier } from '../../src/models/architectures.js';
import { fullModel } from '../../src/models/full-model.js';

const [H, W, C, K] = [4, 4, 1, 5];
const D = H * W * C;

before(async () => {
  await tf.setBackend('cpu');
  ensureGradients();
});

/** Fixed weights of a linear classifier, as plain numbers (shared by every form of the model). */
function weights(): { w: Float32Array; b: Float32Array } {
  const w = new Float32Array(D * K);
  for (let i = 0; i < w.length; i++) w[i] = Math.sin(1.7 * i + 0.3) * 0.8;
  const b = Float32Array.from({ length: K }, (_, k) => 0.1 * k);
  return { w, b };
}

function sequentialModel(): tfl.Sequential {
  const { w, b } = weights();
  const m = tfl.sequential({ layers: [tfl.layers.flatten({ inputShape: [H, W, C] }), tfl.layers.dense({ units: K })] });
  m.layers[1]!.setWeights([tf.tensor2d(w, [D, K]), tf.tensor1d(b)]);
  return m;
}

/** The same classifier as a tfjs GraphModel: a hand-written GraphDef (Placeholder -> Reshape -> MatMul -> BiasAdd). */
async function graphModel(): Promise<Awaited<ReturnType<typeof loadGraphModel>>> {
  const { w, b } = weights();
  const node = (name: string, op: string, input: string[], attr: Record<string, unknown> = {}) => ({ name, op, input, attr });
  const float = { type: 'DT_FLOAT' };
  const topology = {
    node: [
      node('x', 'Placeholder', [], { dtype: float, shape: { shape: { dim: [{ size: '-1' }, { size: String(H) }, { size: String(W) }, { size: String(C) }] } } }),
      node('shape', 'Const', [], { dtype: { type: 'DT_INT32' } }),
      node('w', 'Const', [], { dtype: float }),
      node('b', 'Const', [], { dtype: float }),
      node('flat', 'Reshape', ['x', 'shape'], { T: float }),
      node('mm', 'MatMul', ['flat', 'w'], { T: float, transpose_a: { b: false }, transpose_b: { b: false } }),
      node('logits', 'BiasAdd', ['mm', 'b'], { T: float }),
    ],
    versions: { producer: 1 },
  };
  const shape = new Int32Array([-1, D]);
  const data = new Uint8Array(shape.byteLength + w.byteLength + b.byteLength);
  data.set(new Uint8Array(shape.buffer), 0);
  data.set(new Uint8Array(w.buffer), shape.byteLength);
  data.set(new Uint8Array(b.buffer), shape.byteLength + w.byteLength);
  const weightSpecs = [
    { name: 'shape', shape: [2], dtype: 'int32' as const },
    { name: 'w', shape: [D, K], dtype: 'float32' as const },
    { name: 'b', shape: [K], dtype: 'float32' as const },
  ];
  return loadGraphModel(tf.io.fromMemory({ modelTopology: topology, weightSpecs, weightData: data.buffer, format: 'graph-model' }));
}

function data(n: number): { x: tf.Tensor4D; y: tf.Tensor1D } {
  return { x: tf.randomUniform([n, H, W, C], 0, 1, 'float32', 21) as tf.Tensor4D, y: tf.tensor1d(Array.from({ length: n }, (_, i) => i % K), 'int32') };
}

const ATTACKS: Record<string, () => Attack> = {
  pgd: () => pgd({ eps: 0.05, steps: 4, stepSize: 0.02 }),
  'pgd-dlr': () => pgdDlr({ eps: 0.05, steps: 3 }),
  'apgd-ce': () => apgdCe({ eps: 0.05, nIter: 4 }),
  'apgd-t': () => apgdT({ eps: 0.05, nIter: 3, nTargetClasses: 2 }),
  aa: () => autoAttackCustom([{ attack: 'apgd-ce', options: { nIter: 3 } }, { attack: 'fab-t', options: { nIter: 3, nTargetClasses: 2 } }, { attack: 'square', options: { nQueries: 10 } }], { eps: 0.05 }),
  'fab-t': () => fabT({ eps: 0.05, nIter: 3, nTargetClasses: 2 }),
  square: () => square({ eps: 0.05, nQueries: 12 }),
  fwa: () => fwa({ eps: 0.05, steps: 2, kernel: 3 }),
  tibim: () => tiBim({ eps: 0.05, steps: 3, kernelSize: 3 }),
  feature: () => featureAttack({ eps: 0.05, steps: 3 }),
  'registry pgd5': () => buildAttack(parseAttackSpec('pgd5'), { eps: 0.05 }),
};

test('every attack gives the same result on a LayersModel, a GraphModel, and the same model as a function', async () => {
  const layers = sequentialModel();
  const graph = await graphModel();
  const asFunction = (x: tf.Tensor4D) => tf.tidy(() => layers.apply(x) as tf.Tensor2D);
  const { x, y } = data(10);
  // The three forms really are one model.
  const z = [asFunction(x), asLogitsFn(layers)(x), asLogitsFn(graph)(x)];
  for (const other of z.slice(1)) assert.ok(tf.max(tf.abs(tf.sub(other, z[0]!))).dataSync()[0]! < 1e-5);
  tf.dispose(z);
  const before = tf.memory().numTensors;
  for (const [name, make] of Object.entries(ATTACKS)) {
    const attack = make();
    const a = attack.run(asFunction, x, y, 5);
    const b = attack.run(layers, x, y, { seed: 5 });
    const g = attack.run(graph, x, y, { seed: 5 });
    assert.equal(a.xAdv.shape.join(','), x.shape.join(','), name);
    const diffLayers = tf.tidy(() => tf.max(tf.abs(tf.sub(a.xAdv, b.xAdv))).dataSync()[0]!);
    assert.equal(diffLayers, 0, `${name}: LayersModel vs function`);
    assert.deepEqual(b.success, a.success, `${name}: success`);
    // The graph model computes the same logits with its own kernels: equal up to float rounding.
    const diffGraph = tf.tidy(() => tf.mean(tf.cast(tf.greater(tf.abs(tf.sub(a.xAdv, g.xAdv)), 1e-4), 'float32')).dataSync()[0]!);
    assert.ok(diffGraph < 0.05, `${name}: GraphModel differs on ${(100 * diffGraph).toFixed(1)}% of pixels`);
    tf.dispose([a.xAdv, b.xAdv, g.xAdv]);
  }
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
  graph.dispose();
  layers.dispose();
  tf.dispose([x, y]);
});

test('our networks and FullModel are accepted as they are: same result as their logits function', () => {
  const net = buildClassifier('small-cnn', { inputSize: H, inChannels: C, numClasses: K, width: 2, seed: 3 });
  const full = fullModel(net);
  const { x, y } = data(6);
  const attack = apgdCe({ eps: 0.05, nIter: 3 });
  const viaFn = attack.run(full.logits, x, y, 2);
  const viaFull = attack.run(full, x, y, 2);
  const viaNet = attack.run(net, x, y, 2);
  assert.deepEqual(Array.from(viaFull.xAdv.dataSync()), Array.from(viaFn.xAdv.dataSync()));
  assert.deepEqual(Array.from(viaNet.xAdv.dataSync()), Array.from(viaFn.xAdv.dataSync()));
  tf.dispose([viaFn.xAdv, viaFull.xAdv, viaNet.xAdv, x, y]);
  net.dispose();
});

test('bad models and options are rejected with a message saying what was expected', () => {
  const { x, y } = data(2);
  assert.throws(() => pgd().run(42 as never, x, y), /expected a function x -> logits.*tf\.LayersModel/);
  assert.throws(() => pgd().run({ foo: 1 } as never, x, y), /tf\.GraphModel/);
  const images = (z: tf.Tensor4D) => tf.clone(z) as unknown as tf.Tensor2D;
  assert.throws(() => pgd().run({ predict: images } as never, x, y), /logits of shape \[N, numClasses\].*rank-4/);
  assert.throws(() => pgd().run((z) => tf.tidy(() => tf.reshape(z, [z.shape[0], -1]) as tf.Tensor2D), x, y, { eot: 0 }), /eot: the number of draws must be an integer >= 1/);
  assert.throws(() => prepareRun((z) => z as never, { seed: Number.NaN }), /seed must be a finite number/);
  assert.equal(isEot(prepareRun((z) => z as never, { eot: 3 }).model), true);
  assert.equal(isEot(prepareRun((z) => z as never, 4).model), false);
  tf.dispose([x, y]);
});
