import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { buildNetwork, buildClassifier } from '../../src/models/architectures.js';
import type { Classifier, Network } from '../../src/models/types.js';
import { JatpRecipe } from '../../src/defenses/jatp.js';
import { JatpJointRecipe } from '../../src/defenses/jatp-joint.js';
import { ensureGradients } from '../../src/gradients.js';

before(async () => {
  await tf.setBackend('cpu');
  ensureGradients();
});

const SIZE = 8;

function tinyPair(seed: number): { purifier: Network; target: Classifier } {
  const purifier = buildNetwork('jatp-purifier', { nf: 4, gc: 2, nb: 1, inputSize: SIZE, seed });
  const target = buildClassifier('small-cnn', { width: 4, inputSize: SIZE, numClasses: 3, seed: seed + 1 });
  return { purifier, target };
}

function batch(seed: number, n = 4): { x: tf.Tensor4D; y: tf.Tensor1D } {
  return {
    x: tf.randomUniform([n, SIZE, SIZE, 3], 0, 1, 'float32', seed) as tf.Tensor4D,
    y: tf.tensor1d(Array.from({ length: n }, (_, i) => i % 3), 'int32'),
  };
}

function snapshot(net: Network): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [name, v] of net.namedWeights()) out.set(name, Float32Array.from(v.dataSync() as Float32Array));
  return out;
}

function changed(before: Map<string, Float32Array>, net: Network): string[] {
  const names: string[] = [];
  for (const [name, v] of net.namedWeights()) {
    const now = v.dataSync();
    const old = before.get(name)!;
    if (now.some((value, i) => value !== old[i])) names.push(name);
  }
  return names;
}

test('JATP step (Algorithm 1) updates the pre-processor and leaves the target bitwise unchanged', () => {
  const { purifier, target } = tinyPair(11);
  const recipe = new JatpRecipe(purifier, target, { attackSteps: 2 });
  assert.equal(recipe.featureName, 'block3', "small-cnn's default JATP feature");
  assert.deepEqual(recipe.variableGroups()['main']!.map((v) => v.name), purifier.trainableVariables().map((v) => v.name));
  const targetBefore = snapshot(target);
  const purifierBefore = snapshot(purifier);
  const optimizer = tf.train.sgd(0.05);
  const { x, y } = batch(1);
  const start = tf.memory().numTensors;
  const m1 = recipe.step({ x, y }, { main: optimizer }, 5);
  const afterFirst = tf.memory().numTensors;
  recipe.step({ x, y }, { main: optimizer }, 6);
  assert.equal(tf.memory().numTensors, afterFirst, 'tensor count stable across steps');
  assert.ok(afterFirst - start <= 0, `step leaked ${afterFirst - start} tensors`);
  for (const key of ['loss', 'bce', 'fsm', 'pixel', 'accAdv', 'accNat']) assert.ok(Number.isFinite(m1[key]), `metric ${key}`);
  assert.deepEqual(changed(targetBefore, target), [], 'target weights and BN statistics untouched');
  const pChanged = changed(purifierBefore, purifier);
  assert.equal(pChanged.length, purifier.namedWeights().size, `every purifier tensor moves (changed: ${pChanged.length})`);
  assert.deepEqual([...recipe.stateTensors().keys()].every((k) => k.startsWith('purifier/')), true);
  tf.dispose([x, y]);
  optimizer.dispose();
  purifier.dispose();
  target.dispose();
});

test("JATP′ step updates both the pre-processor and the target, including T's BN running statistics", () => {
  const { purifier, target } = tinyPair(21);
  const recipe = new JatpJointRecipe(purifier, target, { attackSteps: 1 });
  assert.equal(recipe.variableGroups()['main']!.length, purifier.trainableVariables().length + target.trainableVariables().length);
  const targetBefore = snapshot(target);
  const purifierBefore = snapshot(purifier);
  const optimizer = tf.train.sgd(0.05);
  const { x, y } = batch(2);
  recipe.step({ x, y }, { main: optimizer }, 9);
  const tChanged = changed(targetBefore, target);
  assert.ok(tChanged.some((n) => n.endsWith('weight')), 'a target weight moved');
  assert.ok(tChanged.some((n) => n.includes('running_mean')), 'train-mode BN updated running statistics');
  assert.equal(changed(purifierBefore, purifier).length, purifier.namedWeights().size);
  const keys = [...recipe.stateTensors().keys()];
  assert.ok(keys.some((k) => k.startsWith('target/')) && keys.some((k) => k.startsWith('purifier/')));
  tf.dispose([x, y]);
  optimizer.dispose();
  purifier.dispose();
  target.dispose();
});

test('JATP rejects a feature layer the target does not expose, naming the choices', () => {
  const { purifier, target } = tinyPair(31);
  assert.throws(() => new JatpRecipe(purifier, target, { featureLayer: 'layer9' }), /layer9.*expected one of/);
  purifier.dispose();
  target.dispose();
});
