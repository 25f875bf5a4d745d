/**
 * The MMA gradients against central finite differences of independent float64 losses:
 * - MMA-lite (spec §3.3(a)): d/dz of mean_i[(1 - c_i) CE(z_nat_i) + c_i CE(z_adv_i)], c_i = [argmax
 *   z_nat_i = y_i] a constant, for both logit inputs;
 * - original MMA (spec §3.3(b)): the weights after one step equal the float64 SGD step on
 *   (2/3) (1/B) sum_i w_i CE(f(x_mixed_i)) + (1/3) mean CE(f(x_i)), with the step's own margin-search
 *   output (x_mixed, w) held fixed: that search is checked against float64 in mma-original.test.ts.
 * Each test checks that the broken variants it names are far outside the tolerance.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { mmaLiteLoss } from '../../src/classifier-losses.js';
import { MmaOriginalRecipe } from '../../src/targets/recipes/mma-original.js';
import { createOptimizer } from '../../src/training/optim.js';
import { ensureGradients } from '../../src/gradients.js';
import { TinyLinear } from './tiny.js';
import { ce, dense, fdGrad, hashFloat, maxDiff, mean, paramsOf, rows, type Params } from '../reference64.js';

const torch = (await import('tfjs-backend-torch')) as { torchStatus(): { available: boolean; reason?: string } };
const BACKENDS = torch.torchStatus().available ? ['cpu', 'torch'] : ['cpu'];
if (BACKENDS.length === 1) console.log(`# torch-backend cases skipped: ${torch.torchStatus().reason}`);
ensureGradients();
await tf.setBackend('cpu');

const N = 5;
const K = 4;
// Clean logits with clear winners (no argmax tie within any finite-difference step): rows 0, 2, 4
// are classified correctly, rows 1 and 3 are not.
const Y = [0, 1, 2, 3, 1];
const Z_NAT = [
  [2.0, 0.1, -0.5, 0.3],
  [1.2, 0.4, -0.3, 0.0],
  [-0.2, 0.5, 1.7, 0.1],
  [0.9, -0.4, 0.2, -1.0],
  [0.0, 1.1, 0.3, -0.6],
];
const Z_ADV = Z_NAT.map((r, i) => r.map((v, k) => v + 0.8 * hashFloat(i * K + k, 61)));

/** Float64 MMA-lite with the mask c fixed from the clean logits at the evaluation point. */
function mmaLite64(zNat: number[][], zAdv: number[][], mask: boolean[]): number {
  return mean(zNat.map((z, i) => (mask[i] ? ce(zAdv[i]!, Y[i]!) : ce(z, Y[i]!))));
}
const CORRECT = Z_NAT.map((z, i) => z.indexOf(Math.max(...z)) === Y[i]);

for (const backend of BACKENDS) {
  test(`MMA-lite: tfjs gradients w.r.t. clean and adversarial logits equal float64 central differences (${backend})`, async () => {
    await tf.setBackend(backend);
    assert.deepEqual(CORRECT, [true, false, true, false, true]);
    const zn = tf.tensor2d(Z_NAT);
    const za = tf.tensor2d(Z_ADV);
    const y = tf.tensor1d(Y, 'int32');
    const tensorsBefore = tf.memory().numTensors;
    const [gn, ga] = tf.grads((a: tf.Tensor, b: tf.Tensor) => mmaLiteLoss(a as tf.Tensor2D, b as tf.Tensor2D, y))([zn, za]);
    const got: Params = { nat: Array.from(gn!.dataSync()), adv: Array.from(ga!.dataSync()) };
    tf.dispose([gn!, ga!]);
    assert.equal(tf.memory().numTensors, tensorsBefore, 'gradient must not leak tensors');
    const fd = (mask: boolean[]): Params =>
      fdGrad((p) => mmaLite64(rows(p['nat']!, N), rows(p['adv']!, N), mask), { nat: Z_NAT.flat(), adv: Z_ADV.flat() }, ['nat', 'adv']);
    const want = fd(CORRECT);
    const err = maxDiff(got, want, ['nat', 'adv']);
    assert.ok(err <= 1e-6, `MMA-lite gradient differs from float64 finite differences by ${err.toExponential(3)}`);
    // Broken variants a test of this precision must reject.
    assert.ok(maxDiff(fd(CORRECT.map((c) => !c)), want, ['nat', 'adv']) > 0.05, 'mask inverted must be distinguishable');
    assert.ok(maxDiff(fd(CORRECT.map(() => true)), want, ['nat', 'adv']) > 0.05, 'adversarial CE everywhere must be distinguishable');
    tf.dispose([zn, za, y]);
    await tf.setBackend('cpu');
  });
}

const SHAPE = [2, 3, 1] as const;
const D = 6;
const C = 3;
const B = 6;
// cleanLossCoeff left at its default, which must be the spec's 1/3.
const OPTS = { dMax: 0.02, minEps: 0.005, attackSteps: 4, searchSteps: 10, numExamples: 8 };
const X = Array.from({ length: B * D }, (_, i) => (hashFloat(i, 31) + 1) / 2);
const YB = [0, 1, 2, 0, 1, 2];
const INDICES = Int32Array.from([3, 7, 0, 6, 5, 1]);
const LR = 0.5;

for (const backend of BACKENDS) {
  test(`original MMA: one step's update equals the float64 SGD step on (2/3) L_mma + (1/3) L_clean (finite differences) (${backend})`, async () => {
    await tf.setBackend(backend);
    const net = new TinyLinear(SHAPE, C, 41, 1.5);
    const recipe = new MmaOriginalRecipe(net, OPTS);
    // Earlier margins for some examples, so the hinge (e >= dMax: weight 0) and both branches occur.
    const start = Float32Array.from({ length: OPTS.numExamples }, (_, i) => [0.05, 0.2, 0.31, 0.005][i % 4]!);
    recipe.margins.assign(tf.tensor1d(start));
    const batch = { x: tf.tensor4d(X, [B, ...SHAPE]), y: tf.tensor1d(YB, 'int32'), indices: INDICES };
    // The step's own (x_mixed, weights): prepare is deterministic given the seed and the stored margins.
    const prepare = (recipe as unknown as { prepare(b: typeof batch, seed: number): tf.Tensor[] }).prepare.bind(recipe);
    const [xMixedT, weightsT] = prepare(batch, 5);
    const xMixed = rows(xMixedT!.dataSync(), B);
    const weights = Array.from(weightsT!.dataSync());
    tf.dispose([xMixedT!, weightsT!]);
    const before = paramsOf({ W: net.W, b: net.b });
    const xr = rows(X, B);
    // The hinge, from the margins the search stored: correctly classified examples whose margin
    // reached dMax leave L_mma (weight 0); the others stay (weight 1).
    const stored = recipe.margins.dataSync();
    // "correct" as the original MMA defines it: soft logit margin logsumexp_{k != y} z_k - z_y < 0.
    const correct = dense(xr, before['W']!, before['b']!).map((z, i) => {
      const others = z.filter((_, k) => k !== YB[i]);
      const m = Math.max(...others);
      return m + Math.log(others.reduce((a, v) => a + Math.exp(v - m), 0)) - z[YB[i]!]! < 0;
    });
    const wantWeights = correct.map((c, i) => (c && stored[INDICES[i]!]! >= OPTS.dMax ? 0 : 1));
    assert.deepEqual(weights, wantWeights, `hinge weights (correct ${correct}, margins ${Array.from(INDICES, (j) => stored[j])})`);
    recipe.margins.assign(tf.tensor1d(start));

    const opt = createOptimizer({ kind: 'sgd', lr: LR, momentum: 0 }, recipe.variableGroups()['main']!);
    const tensorsBefore = tf.memory().numTensors;
    recipe.step(batch, { main: opt }, 5);
    assert.equal(tf.memory().numTensors, tensorsBefore, 'step must not leak tensors');
    const after = paramsOf({ W: net.W, b: net.b });

    const loss = (p: Params, cClean: number, w: number[], denominator: number): number => {
      const lossMma = dense(xMixed, p['W']!, p['b']!).reduce((s, z, i) => s + w[i]! * ce(z, YB[i]!), 0) / denominator;
      const lossClean = mean(dense(xr, p['W']!, p['b']!).map((z, i) => ce(z, YB[i]!)));
      return (1 - cClean) * lossMma + cClean * lossClean;
    };
    const stepOf = (f: (p: Params) => number): Params => {
      const g = fdGrad(f, before, ['W', 'b']);
      return { W: before['W']!.map((v, i) => v - LR * g['W']![i]!), b: before['b']!.map((v, i) => v - LR * g['b']![i]!) };
    };
    const want = stepOf((p) => loss(p, 1 / 3, weights, B));
    const err = maxDiff(after, want, ['W', 'b']);
    assert.ok(err <= 5e-6, `original MMA: updated weights differ from the float64 SGD step by ${err.toExponential(3)}`);
    assert.ok(weights.includes(0) && weights.includes(1), `fixture must hinge some examples and keep others (weights ${weights})`);
    const broken: Record<string, Params> = {
      'clean/MMA coefficients swapped': stepOf((p) => loss(p, 2 / 3, weights, B)),
      'hinge ignored (every weight 1)': stepOf((p) => loss(p, 1 / 3, weights.map(() => 1), B)),
      'L_mma averaged over the kept examples': stepOf((p) => loss(p, 1 / 3, weights, weights.filter((w) => w > 0).length)),
    };
    for (const [name, b] of Object.entries(broken)) {
      const gap = maxDiff(b, want, ['W', 'b']);
      assert.ok(gap >= 5e-5, `the fixture cannot tell '${name}' apart (only ${gap.toExponential(3)} away)`);
    }
    tf.dispose([batch.x, batch.y]);
    opt.dispose();
    net.dispose();
    await tf.setBackend('cpu');
  });
}
