/**
 * One `step` of each target recipe (natural, standard PGD-AT, TRADES, MART, MMA-lite) against a float64
 * reference of its loss AND its SGD update. The classifier is a tiny linear model with known weights
 * whose input is centred like a batch norm without affine part: by the batch mean in train mode, by a
 * fixed running mean in eval mode, so a recipe that attacks in train mode or computes its loss in eval
 * mode gives other numbers (spec §3.2: attack in eval mode, loss in train mode). Its input gradient is
 * closed-form, so the training PGD is re-done here; the loss of each recipe is written
 * out again from its formula (spec §3.2/§3.3) as a float64 function of (W, b), differentiated by
 * central finite differences, and one SGD step (momentum buffer empty, L2 weight decay) is compared
 * with the weights after `recipe.step`. A flipped sign, a wrong β, a detached branch or a wrong mask
 * moves the updated weights far outside the tolerance: each test checks on the reference itself that
 * the broken variant it names lies at least 10 tolerances away, so the fixture can tell them apart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { NaturalRecipe } from '../../src/targets/recipes/natural.js';
import { StandardRecipe } from '../../src/targets/recipes/standard.js';
import { TradesRecipe } from '../../src/targets/recipes/trades.js';
import { MartRecipe } from '../../src/targets/recipes/mart.js';
import { MmaRecipe } from '../../src/targets/recipes/mma.js';
import { createOptimizer } from '../../src/training/optim.js';
import type { ClassifierRecipe, TrainAttackOptions } from '../../src/targets/recipes/classifier-recipe.js';
import type { Classifier } from '../../src/models/types.js';
import { boostedCe, ce, dense, hashFloat, fdGrad, kl, maxDiff, mean, paramsOf, rows, softmax, type Mat, type Params } from '../reference64.js';

const torch = (await import('tfjs-backend-torch')) as { torchStatus(): { available: boolean; reason?: string } };
const BACKENDS = torch.torchStatus().available ? ['cpu', 'torch'] : ['cpu'];
if (BACKENDS.length === 1) console.log(`# torch-backend cases skipped: ${torch.torchStatus().reason}`);
await tf.setBackend('cpu');

const SHAPE = [2, 3, 1] as const;
const D = 6;
const K = 3;
const B = 6;
const ATTACK: TrainAttackOptions = { eps: 0.1, stepSize: 0.04, steps: 3, startStd: 0.001 };
const SEED = 4321;
const LR = 0.1;
const WD = 0.01;
/** Max |W' - W'_ref|: float32 forward/backward against float64, well below every broken variant's distance. */
const TOL = 5e-6;
const NAMES = ['W', 'b'] as const;

const X = Array.from({ length: B * D }, (_, i) => (i % 7 === 0 ? 0 : i % 11 === 0 ? 1 : (hashFloat(i, 19) + 1) / 2));
const Y = [0, 1, 2, 0, 1, 2];
const XR = rows(X, B);

/** The fixed running mean the eval mode subtracts (non-zero, so eval and train mode differ). */
const RUNNING_MEAN = Array.from({ length: D }, (_, i) => 0.4 + 0.1 * hashFloat(i, 23));

/**
 * logits = (flatten(x) - mu) · W + b, mu = the batch mean per input (train mode) or RUNNING_MEAN
 * (eval mode). Train mode does not update the running mean: the test needs it fixed.
 */
class CenteredLinear implements Classifier {
  readonly arch = 'centered-linear';
  readonly options = {};
  readonly featureNames: readonly string[] = [];
  readonly numClasses = K;
  readonly W: tf.Variable;
  readonly b: tf.Variable;
  readonly runningMean: tf.Variable;
  constructor(salt: number) {
    this.W = tf.variable(tf.tensor2d(Array.from({ length: D * K }, (_, i) => 1.5 * hashFloat(i, salt)), [D, K]), true, `centered-${salt}-${Math.random()}/W`);
    this.b = tf.variable(tf.tensor1d(Array.from({ length: K }, (_, i) => 0.1 * hashFloat(i, salt + 100))), true, `centered-${salt}-${Math.random()}/b`);
    this.runningMean = tf.variable(tf.tensor1d(RUNNING_MEAN), false, `centered-${salt}-${Math.random()}/running_mean`);
  }
  apply(x: tf.Tensor4D, training: boolean): tf.Tensor {
    return tf.tidy(() => {
      const flat = tf.reshape(x, [x.shape[0], D]);
      const mu = training ? tf.mean(flat, 0) : this.runningMean;
      return tf.add(tf.matMul(tf.sub(flat, mu), this.W), this.b);
    });
  }
  applyWithFeatures(x: tf.Tensor4D, _names: readonly string[], training: boolean): { output: tf.Tensor; features: Record<string, tf.Tensor> } {
    return { output: this.apply(x, training), features: {} };
  }
  trainableVariables(): tf.Variable[] {
    return [this.W, this.b];
  }
  namedWeights(): Map<string, tf.Variable> {
    return new Map([['W', this.W], ['b', this.b], ['running_mean', this.runningMean]]);
  }
  countParams(): number {
    return D * K + K;
  }
  dispose(): void {
    tf.dispose([this.W, this.b, this.runningMean]);
  }
}

/** Eval-mode logits in float64: (x - running mean) · W + b. */
const evalLogits = (p: Params, x: Mat): Mat => dense(x.map((r) => r.map((v, i) => v - RUNNING_MEAN[i]!)), p['W']!, p['b']!);
/** Train-mode logits in float64: (x - batch mean of x) · W + b. */
const logitsOf = (p: Params, x: Mat): Mat => {
  const mu = Array.from({ length: D }, (_, i) => mean(x.map((r) => r[i]!)));
  return dense(x.map((r) => r.map((v, i) => v - mu[i]!)), p['W']!, p['b']!);
};

/** Training PGD (spec §3.2) on the linear model in float64: sign ascent of CE or of KL(p(x) || p(.)). */
function pgd64(p: Params, loss: 'ce' | 'kl', noise: number[]): Mat {
  const pNat = evalLogits(p, XR).map(softmax);
  let xa = XR.map((row, r) => row.map((v, i) => v + noise[r * D + i]!));
  for (let s = 0; s < ATTACK.steps; s++) {
    const z = evalLogits(p, xa);
    xa = xa.map((row, r) => {
      const q = softmax(z[r]!);
      const dz = q.map((qk, k) => qk - (loss === 'ce' ? (k === Y[r] ? 1 : 0) : pNat[r]![k]!));
      return row.map((v, i) => {
        const g = dz.reduce((acc, dk, k) => acc + dk * p['W']![i * K + k]!, 0);
        const xi = XR[r]![i]!;
        return Math.min(1, Math.max(0, Math.min(xi + ATTACK.eps, Math.max(xi - ATTACK.eps, v + ATTACK.stepSize * Math.sign(g)))));
      });
    });
  }
  return xa;
}

/** First step of torch-style SGD (momentum buffer = gradient): p - lr (g + wd p). */
function sgdFirstStep(p: Params, g: Params): Params {
  return Object.fromEntries(NAMES.map((n) => [n, p[n]!.map((v, i) => v - LR * (g[n]![i]! + WD * v))]));
}

interface Outcome {
  readonly before: Params;
  readonly after: Params;
  readonly metrics: Record<string, number>;
  readonly noise: number[];
}

/** Build the net with `salt`, run one `recipe.step`, return the weights before/after (leak-checked). */
function oneStep(backend: string, salt: number, make: (net: CenteredLinear) => ClassifierRecipe): Outcome {
  const net = new CenteredLinear(salt);
  const before = paramsOf({ W: net.W, b: net.b });
  // The recipe's random start x + 0.001·N(0, I) uses tfjs' seeded generator: the only shared piece.
  const noise = Array.from(tf.tidy(() => tf.randomNormal([B, ...SHAPE], 0, ATTACK.startStd, 'float32', SEED)).dataSync());
  const recipe = make(net);
  const opt = createOptimizer({ kind: 'sgd', lr: LR, momentum: 0.9, weightDecay: WD }, recipe.variableGroups()['main']!);
  const x = tf.tensor4d(X, [B, ...SHAPE]);
  const y = tf.tensor1d(Y, 'int32');
  const tensorsBefore = tf.memory().numTensors;
  const metrics = recipe.step({ x, y }, { main: opt }, SEED);
  assert.equal(tf.memory().numTensors, tensorsBefore, `${backend}: step must not leak tensors`);
  const after = paramsOf({ W: net.W, b: net.b });
  opt.dispose();
  tf.dispose([x, y]);
  net.dispose();
  return { before, after, metrics, noise };
}

/**
 * The updated weights must equal the float64 SGD step on `loss`; each named broken loss must give a
 * step at least 10·TOL away (proof that the comparison can fail for that mistake).
 */
function checkUpdate(o: Outcome, loss: (p: Params) => number, broken: Record<string, (p: Params) => number>, what: string): void {
  const want = sgdFirstStep(o.before, fdGrad(loss, o.before, NAMES));
  const err = maxDiff(o.after, want, NAMES);
  assert.ok(err <= TOL, `${what}: updated weights differ from the float64 SGD step by ${err.toExponential(3)} (tolerance ${TOL})`);
  assert.ok(Math.abs(o.metrics['loss']! - loss(o.before)) <= 2e-5 * Math.max(1, Math.abs(loss(o.before))), `${what}: loss ${o.metrics['loss']} vs float64 ${loss(o.before)}`);
  for (const [name, f] of Object.entries(broken)) {
    const gap = maxDiff(sgdFirstStep(o.before, fdGrad(f, o.before, NAMES)), want, NAMES);
    assert.ok(gap >= 10 * TOL, `${what}: the fixture cannot tell '${name}' apart (its step is only ${gap.toExponential(3)} away)`);
  }
}

for (const backend of BACKENDS) {
  test(`natural recipe: one SGD step equals the float64 step on mean CE (${backend})`, async () => {
    await tf.setBackend(backend);
    const o = oneStep(backend, 31, (net) => new NaturalRecipe(net));
    const loss = (p: Params): number => mean(logitsOf(p, XR).map((z, r) => ce(z, Y[r]!)));
    checkUpdate(o, loss, { 'ascent (sign flipped)': (p) => -loss(p), 'sum instead of mean': (p) => B * loss(p) }, 'natural');
    await tf.setBackend('cpu');
  });

  test(`standard AT recipe: one SGD step equals the float64 step on CE at the training-PGD batch (${backend})`, async () => {
    await tf.setBackend(backend);
    const o = oneStep(backend, 32, (net) => new StandardRecipe(net, { attack: ATTACK }));
    const xAdv = pgd64(o.before, 'ce', o.noise);
    const ceAt = (p: Params, x: Mat): number => mean(logitsOf(p, x).map((z, r) => ce(z, Y[r]!)));
    checkUpdate(o, (p) => ceAt(p, xAdv), {
      'clean batch instead of x_adv': (p) => ceAt(p, XR),
      'sign flipped': (p) => -ceAt(p, xAdv),
      'loss in eval mode': (p) => mean(evalLogits(p, xAdv).map((z, r) => ce(z, Y[r]!))),
    }, 'standard');
    await tf.setBackend('cpu');
  });

  test(`TRADES recipe: one SGD step equals the float64 step on CE(x) + 6·KL(p(x)||p(x_adv)), p(x) not detached (${backend})`, async () => {
    await tf.setBackend(backend);
    const o = oneStep(backend, 33, (net) => new TradesRecipe(net, { attack: ATTACK }));
    const xAdv = pgd64(o.before, 'kl', o.noise);
    const frozen = logitsOf(o.before, XR).map(softmax);
    const trades = (p: Params, beta: number, detachNatural: boolean): number => {
      const zn = logitsOf(p, XR);
      const za = logitsOf(p, xAdv);
      const robust = mean(zn.map((z, r) => kl(detachNatural ? frozen[r]! : softmax(z), softmax(za[r]!))));
      return mean(zn.map((z, r) => ce(z, Y[r]!))) + beta * robust;
    };
    checkUpdate(o, (p) => trades(p, 6, false), {
      'beta 1 instead of 6': (p) => trades(p, 1, false),
      'beta 5 instead of 6': (p) => trades(p, 5, false),
      'p(x) detached in the KL': (p) => trades(p, 6, true),
      'KL sign flipped': (p) => trades(p, -6, false),
    }, 'TRADES');
    await tf.setBackend('cpu');
  });

  test(`MART recipe: one SGD step equals the float64 step on boosted CE + 6·KL·(1 - p_y), nothing detached (${backend})`, async () => {
    await tf.setBackend(backend);
    const o = oneStep(backend, 34, (net) => new MartRecipe(net, { attack: ATTACK }));
    const xAdv = pgd64(o.before, 'ce', o.noise);
    const frozen = logitsOf(o.before, XR).map(softmax);
    const mart = (p: Params, beta: number, detachWeight: boolean, boosted = true): number => {
      const pn = logitsOf(p, XR).map(softmax);
      const za = logitsOf(p, xAdv);
      const adv = mean(za.map((z, r) => (boosted ? boostedCe(z, Y[r]!) : ce(z, Y[r]!))));
      const robust = mean(
        pn.map((q, r) => {
          const qa = softmax(za[r]!);
          const klr = q.reduce((s, qk, k) => s + qk * (Math.log(qk) - Math.log(qa[k]! + 1e-12)), 0);
          return klr * (1.0000001 - (detachWeight ? frozen[r]! : q)[Y[r]!]!);
        }),
      );
      return adv + beta * robust;
    };
    checkUpdate(o, (p) => mart(p, 6, false), {
      'beta 5 instead of 6': (p) => mart(p, 5, false),
      'weight (1 - p_y) detached': (p) => mart(p, 6, true),
      'plain CE instead of boosted CE': (p) => mart(p, 6, false, false),
    }, 'MART');
    await tf.setBackend('cpu');
  });

  test(`MMA-lite recipe: one SGD step equals the float64 step on CE(x) for wrong, CE(x_adv) for correct examples (${backend})`, async () => {
    await tf.setBackend(backend);
    const o = oneStep(backend, 16, (net) => new MmaRecipe(net, { attack: ATTACK }));
    const xAdv = pgd64(o.before, 'ce', o.noise);
    // c_i from the clean prediction: a constant of the step (piecewise constant in the weights).
    const correct = logitsOf(o.before, XR).map((z, r) => z.indexOf(Math.max(...z)) === Y[r]);
    assert.ok(correct.includes(true) && correct.includes(false), `the fixture must mix correct and wrong clean predictions (${correct})`);
    const mma = (p: Params, mask: boolean[]): number => {
      const zn = logitsOf(p, XR);
      const za = logitsOf(p, xAdv);
      return mean(zn.map((z, r) => (mask[r] ? ce(za[r]!, Y[r]!) : ce(z, Y[r]!))));
    };
    checkUpdate(o, (p) => mma(p, correct), {
      'mask inverted': (p) => mma(p, correct.map((c) => !c)),
      'CE on x_adv for every example': (p) => mma(p, correct.map(() => true)),
    }, 'MMA-lite');
    await tf.setBackend('cpu');
  });
}
