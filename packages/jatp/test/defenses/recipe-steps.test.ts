/**
 * One `step` of each defense recipe (JATP, JATP′, APE-G, HGD, NRP) against a float64 reference of
 * its loss and of its update. The networks are tiny dense ones with known weights (tiny-nets.ts);
 * the adversarial batch is fixed (JATP: the Eq. 5 attack is replaced by a given x~ and checked on
 * its own against a float64 sign ascent; the baselines get it as the paired "oblivious" batch), so
 * each recipe's loss can be written out again from its
 * formula (spec §2.5, §4.1–4.3) as a float64 function of the parameters, differentiated by central
 * finite differences, and the recipe's sequence of SGD steps (APE-G: D, then G twice; NRP: P, then
 * D on the updated P) re-played in float64. Each test also checks on the reference that every
 * broken variant it names (a flipped sign, a wrong α/β/ξ/λ, a missing or extra detach, a wrong step
 * order) would move the weights at least 10 tolerances away.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { JatpRecipe } from '../../src/defenses/jatp.js';
import { JatpJointRecipe } from '../../src/defenses/jatp-joint.js';
import { ApegRecipe } from '../../src/defenses/apeg.js';
import { HgdRecipe } from '../../src/defenses/hgd.js';
import { NrpRecipe } from '../../src/defenses/nrp.js';
import type { Recipe } from '../../src/training/types.js';
import { boostedCe, fdGrad, hashFloat, maxDiff, mean, meanAll, paramsOf, rows, sgdStep, softmax, softplus, type Mat, type Params } from '../reference64.js';
import { TinyDiscriminator, TinyPurifier, TinyTarget, discriminator64, prefixed, purifier64, target64 } from './tiny-nets.js';

const torch = (await import('tfjs-backend-torch')) as { torchStatus(): { available: boolean; reason?: string } };
const BACKENDS = torch.torchStatus().available ? ['cpu', 'torch'] : ['cpu'];
if (BACKENDS.length === 1) console.log(`# torch-backend cases skipped: ${torch.torchStatus().reason}`);
await tf.setBackend('cpu');

const SHAPE = [2, 2, 1] as const;
const D = 4;
const N = 4;
const K = 3;
const HIDDEN = 3;
const LR = 0.5;
/** Max |θ' - θ'_ref| after the recipe's steps (float32 against float64). */
const TOL = 1e-5;

const X = Array.from({ length: N * D }, (_, i) => (hashFloat(i, 41) + 1) / 2);
// A fixed "adversarial" batch: x moved by up to ±0.25 per pixel (large enough for a sizeable FSM term).
const XA = X.map((v, i) => v + 0.25 * hashFloat(i, 43));
const Y = [0, 1, 2, 0];
const XR = rows(X, N);
const XAR = rows(XA, N);

const P_NAMES = ['P.A', 'P.c'];
const T_NAMES = ['T.V', 'T.a', 'T.W', 'T.b'];
const D_NAMES = ['D.U', 'D.e', 'D.w', 'D.f'];

const image = (v: number[]): tf.Tensor4D => tf.tensor4d(v, [N, ...SHAPE]);
/** The paired oblivious batch [natural | adversarial] along the channel axis (example-cache.ts layout). */
const pairedBatch = (): tf.Tensor4D => tf.tidy(() => tf.concat([image(X), image(XA)], 3));

interface Nets {
  purifier: TinyPurifier;
  target: TinyTarget;
  discriminator: TinyDiscriminator;
}

function makeNets(probability: boolean): Nets {
  return {
    purifier: new TinyPurifier(SHAPE, 51),
    target: new TinyTarget(D, HIDDEN, K, 52),
    discriminator: new TinyDiscriminator(D, 3, probability, 53),
  };
}

function paramsOfNets(n: Nets): Params {
  return paramsOf({ ...prefixed(n.purifier, 'P.'), ...prefixed(n.target, 'T.'), ...prefixed(n.discriminator, 'D.') });
}

/** One recipe.step with plain SGD for every group; weights before and after; leak-checked. */
function runStep(backend: string, nets: Nets, recipe: Recipe, x: tf.Tensor4D): { before: Params; after: Params; metrics: Record<string, number> } {
  const before = paramsOfNets(nets);
  const optimizers = Object.fromEntries(Object.keys(recipe.variableGroups()).map((g) => [g, tf.train.sgd(LR)]));
  const y = tf.tensor1d(Y, 'int32');
  const tensorsBefore = tf.memory().numTensors;
  const metrics = recipe.step({ x, y }, optimizers, 7);
  assert.equal(tf.memory().numTensors, tensorsBefore, `${backend}: ${recipe.name} step must not leak tensors`);
  const after = paramsOfNets(nets);
  for (const o of Object.values(optimizers)) o.dispose();
  tf.dispose([x, y]);
  nets.purifier.dispose();
  nets.target.dispose();
  nets.discriminator.dispose();
  return { before, after, metrics };
}

const ALL = [...P_NAMES, ...T_NAMES, ...D_NAMES];

/** `after` must equal `want` on every parameter; every broken replay must be >= 10 TOL from `want`. */
function check(after: Params, want: Params, broken: Record<string, Params>, what: string): void {
  const err = maxDiff(after, want, ALL);
  assert.ok(err <= TOL, `${what}: updated weights differ from the float64 reference step by ${err.toExponential(3)} (tolerance ${TOL})`);
  for (const [name, b] of Object.entries(broken)) {
    const gap = maxDiff(b, want, ALL);
    assert.ok(gap >= 10 * TOL, `${what}: the fixture cannot tell '${name}' apart (only ${gap.toExponential(3)} away)`);
  }
}

/** One SGD step of `loss` on `names` from p. */
const step64 = (p: Params, names: string[], loss: (q: Params) => number): Params => sgdStep(p, fdGrad(loss, p, names), LR);

// ---------------------------------------------------------------------------------------------------
// JATP and JATP′
// ---------------------------------------------------------------------------------------------------

interface JatpVariant {
  alpha: number;
  beta: number;
  /** Features and weight of the natural branch as constants (spec A5's alternative). */
  detachNatural: boolean;
  /** Weight p_y instead of 1 - p_y. */
  weightFlipped: boolean;
  boosted: boolean;
  /** T's mode in the update: eval for JATP (T frozen), train for JATP′. */
  mode: 'eval' | 'train';
}
const JATP_SPEC: JatpVariant = { alpha: 5, beta: 3, detachNatural: false, weightFlipped: false, boosted: true, mode: 'eval' };

/** L_JATP (Eqs. 6–10) in float64: mean_i[BCE_i + α FSM_i (1 - q_n,i[y_i])] + β MSE(P(x~), x). */
function jatp64(p: Params, frozen: Params, v: JatpVariant): number {
  const pa = purifier64(p, XAR);
  const ta = target64(p, pa, v.mode);
  const tn = target64(v.detachNatural ? frozen : p, purifier64(v.detachNatural ? frozen : p, XR), v.mode);
  const perExample = ta.logits.map((z, i) => {
    const bce = v.boosted ? boostedCe(z, Y[i]!) : -Math.log(softmax(z)[Y[i]!]!);
    const fsm = mean(ta.hidden[i]!.map((h, j) => (h - tn.hidden[i]![j]!) ** 2));
    const py = softmax(tn.logits[i]!)[Y[i]!]!;
    return bce + v.alpha * fsm * (v.weightFlipped ? py : 1 - py);
  });
  return mean(perExample) + v.beta * meanAll(pa.map((r, i) => r.map((u, j) => (u - XR[i]![j]!) ** 2)));
}

/** JATP with the Eq. 5 attack replaced by a fixed x~ (the inner attack is tested on its own). */
class FixedAdversaryJatp extends JatpRecipe {
  override craftAdversarial(): tf.Tensor4D {
    return image(XA);
  }
}
class FixedAdversaryJatpJoint extends JatpJointRecipe {
  override craftAdversarial(): tf.Tensor4D {
    return image(XA);
  }
}

for (const backend of BACKENDS) {
  test(`JATP step: P moves by the float64 SGD step on L_JATP (α 5, β 3, natural branch not detached); T untouched (${backend})`, async () => {
    await tf.setBackend(backend);
    const nets = makeNets(true);
    const recipe = new FixedAdversaryJatp(nets.purifier, nets.target);
    const { before, after, metrics } = runStep(backend, nets, recipe, image(X));
    const loss = (q: Params): number => jatp64(q, before, JATP_SPEC);
    assert.ok(Math.abs(metrics['loss']! - loss(before)) <= 1e-5 * loss(before), `JATP loss ${metrics['loss']} vs float64 ${loss(before)}`);
    const replay = (v: Partial<JatpVariant>): Params => step64(before, P_NAMES, (q) => jatp64(q, before, { ...JATP_SPEC, ...v }));
    check(after, replay({}), {
      'α = 0 (FSM dropped)': replay({ alpha: 0 }),
      'β = 0 (pixel loss dropped)': replay({ beta: 0 }),
      'α and β swapped': replay({ alpha: 3, beta: 5 }),
      'natural branch detached': replay({ detachNatural: true }),
      'weight p_y instead of 1 - p_y': replay({ weightFlipped: true }),
      'plain CE instead of boosted CE': replay({ boosted: false }),
      'T in train mode': replay({ mode: 'train' }),
    }, 'JATP');
    await tf.setBackend('cpu');
  });

  test(`JATP′ step: P and T move together by the float64 SGD step on L_JATP (${backend})`, async () => {
    await tf.setBackend(backend);
    const nets = makeNets(true);
    const recipe = new FixedAdversaryJatpJoint(nets.purifier, nets.target);
    const { before, after } = runStep(backend, nets, recipe, image(X));
    const replay = (names: string[], v: Partial<JatpVariant>): Params => step64(before, names, (q) => jatp64(q, before, { ...JATP_SPEC, mode: 'train', ...v }));
    const both = [...P_NAMES, ...T_NAMES];
    check(after, replay(both, {}), {
      'T frozen (plain JATP)': replay(P_NAMES, {}),
      'natural branch detached': replay(both, { detachNatural: true }),
      'α = 0': replay(both, { alpha: 0 }),
      'T in eval mode': replay(both, { mode: 'eval' }),
    }, 'JATP′');
    await tf.setBackend('cpu');
  });
}

for (const backend of BACKENDS) {
  test(`JATP's Eq. 5 attack: x~ equals a float64 sign ascent of MSE(feat(T, P(x~)), feat(T, P(x))) from the seeded uniform start (${backend})`, async () => {
    await tf.setBackend(backend);
    const nets = makeNets(true);
    const o = { eps: 0.1, attackSteps: 3, attackStepSize: 0.04 };
    const recipe = new JatpRecipe(nets.purifier, nets.target, o);
    const p = paramsOfNets(nets);
    const x = image(X);
    const seed = 11;
    // The uniform start U(-eps, eps) comes from tfjs' seeded generator: the only shared piece.
    const noise = Array.from(tf.tidy(() => tf.randomUniform([N, ...SHAPE], -o.eps, o.eps, 'float32', seed)).dataSync());
    const tensorsBefore = tf.memory().numTensors;
    const got = recipe.craftAdversarial(x, seed);
    assert.equal(tf.memory().numTensors, tensorsBefore + 1, 'only x~ may survive');
    const gotRows = rows(got.dataSync(), N);
    got.dispose();
    const natural = target64(p, purifier64(p, XR)).hidden;
    const objective = (xa: number[][], i: number): number =>
      mean(target64(p, purifier64(p, [xa[i]!])).hidden[0]!.map((h, j) => (h - natural[i]![j]!) ** 2));
    const clip = (v: number, i: number, j: number): number => Math.min(1, Math.max(0, Math.min(XR[i]![j]! + o.eps, Math.max(XR[i]![j]! - o.eps, v))));
    const attack = (direction: 1 | -1): number[][] => {
      let xa = XR.map((r, i) => r.map((v, j) => Math.min(1, Math.max(0, v + noise[i * D + j]!))));
      for (let k = 0; k < o.attackSteps; k++) {
        xa = xa.map((r, i) =>
          r.map((v, j) => {
            const up = xa.map((rr) => rr.slice());
            const down = xa.map((rr) => rr.slice());
            up[i]![j]! += 1e-6;
            down[i]![j]! -= 1e-6;
            return clip(v + direction * o.attackStepSize * Math.sign(objective(up, i) - objective(down, i)), i, j);
          }),
        );
      }
      return xa;
    };
    const want = attack(1);
    const err = Math.max(...gotRows.flatMap((r, i) => r.map((v, j) => Math.abs(v - want[i]![j]!))));
    assert.ok(err <= 1e-5, `x~ differs from the float64 feature attack by ${err.toExponential(3)}`);
    const descent = attack(-1);
    assert.ok(Math.max(...descent.flatMap((r, i) => r.map((v, j) => Math.abs(v - want[i]![j]!)))) > 0.01, 'descent must be distinguishable');
    x.dispose();
    nets.purifier.dispose();
    nets.target.dispose();
    nets.discriminator.dispose();
    await tf.setBackend('cpu');
  });
}

// ---------------------------------------------------------------------------------------------------
// APE-G
// ---------------------------------------------------------------------------------------------------

interface ApegVariant {
  xiMse: number;
  xiAdv: number;
  generatorSteps: number;
  /** Discriminator step after the generator steps instead of before. */
  dLast: boolean;
  /** D's labels swapped (real -> 0, fake -> 1). */
  dLabelsSwapped: boolean;
}
const APEG_SPEC: ApegVariant = { xiMse: 0.7, xiAdv: 0.3, generatorSteps: 2, dLast: false, dLabelsSwapped: false };

/** APE-GAN (spec §4.1) in float64: D step on BCE(D(x),1) + BCE(D(G(x_adv)),0), then G steps on ξ1 MSE + ξ2 BCE(D(G(x_adv)),1). */
function apeg64(p0: Params, v: ApegVariant): Params {
  const dStep = (p: Params): Params => {
    const fake = purifier64(p, XAR); // a constant of the D step
    const real = v.dLabelsSwapped ? fake : XR;
    const other = v.dLabelsSwapped ? XR : fake;
    return step64(p, D_NAMES, (q) => -mean(discriminator64(q, real, true).map(Math.log)) - mean(discriminator64(q, other, true).map((d) => Math.log(1 - d))));
  };
  const gStep = (p: Params): Params =>
    step64(p, P_NAMES, (q) => {
      const g = purifier64(q, XAR);
      const mse = meanAll(g.map((r, i) => r.map((u, j) => (u - XR[i]![j]!) ** 2)));
      return v.xiMse * mse + v.xiAdv * -mean(discriminator64(q, g, true).map(Math.log));
    });
  let p = v.dLast ? p0 : dStep(p0);
  for (let k = 0; k < v.generatorSteps; k++) p = gStep(p);
  return v.dLast ? dStep(p) : p;
}

for (const backend of BACKENDS) {
  test(`APE-G step: one D step then two G steps equal the float64 replay (ξ1 0.7, ξ2 0.3) (${backend})`, async () => {
    await tf.setBackend(backend);
    const nets = makeNets(true);
    const recipe = new ApegRecipe(nets.purifier, nets.discriminator, nets.target, { examples: 'oblivious' });
    const { before, after } = runStep(backend, nets, recipe, pairedBatch());
    const replay = (v: Partial<ApegVariant>): Params => apeg64(before, { ...APEG_SPEC, ...v });
    check(after, replay({}), {
      'ξ1 and ξ2 swapped': replay({ xiMse: 0.3, xiAdv: 0.7 }),
      'adversarial term dropped': replay({ xiAdv: 0 }),
      'one generator step': replay({ generatorSteps: 1 }),
      'D step after the G steps': replay({ dLast: true }),
      "D's labels swapped": replay({ dLabelsSwapped: true }),
    }, 'APE-G');
    await tf.setBackend('cpu');
  });
}

// ---------------------------------------------------------------------------------------------------
// HGD
// ---------------------------------------------------------------------------------------------------

for (const backend of BACKENDS) {
  test(`HGD step (LGD): the denoiser moves by the float64 SGD step on mean |T(D(x_adv)) - T(x)| (${backend})`, async () => {
    await tf.setBackend(backend);
    const nets = makeNets(true);
    const recipe = new HgdRecipe(nets.purifier, nets.target, { examples: 'oblivious', guidance: 'logits' });
    const { before, after, metrics } = runStep(backend, nets, recipe, pairedBatch());
    const hgd = (q: Params, reference: Mat, power: number, layer: 'logits' | 'hidden' = 'logits', mode: 'eval' | 'train' = 'eval'): number => {
      const guide = target64(q, purifier64(q, XAR), mode)[layer];
      return meanAll(guide.map((r, i) => r.map((u, j) => Math.abs(u - reference[i]![j]!) ** power)));
    };
    const natural = target64(before, XR).logits;
    assert.ok(Math.abs(metrics['loss']! - hgd(before, natural, 1)) <= 1e-5, `HGD loss ${metrics['loss']} vs float64 ${hgd(before, natural, 1)}`);
    const replay = (f: (q: Params) => number): Params => step64(before, P_NAMES, f);
    check(after, replay((q) => hgd(q, natural, 1)), {
      'L2 instead of L1': replay((q) => hgd(q, natural, 2)),
      'guided towards T(x_adv) instead of T(x)': replay((q) => hgd(q, target64(before, XAR).logits, 1)),
      'sign flipped': replay((q) => -hgd(q, natural, 1)),
      'feature guidance instead of logits': replay((q) => hgd(q, target64(before, XR).hidden, 1, 'hidden')),
      'T in train mode': replay((q) => hgd(q, target64(before, XR, 'train').logits, 1, 'logits', 'train')),
    }, 'HGD');
    await tf.setBackend('cpu');
  });
}

for (const backend of BACKENDS) {
  test(`HGD step (FGD): guided by T's feature map, mean |f(D(x_adv)) - f(x)| (${backend})`, async () => {
    await tf.setBackend(backend);
    const nets = makeNets(true);
    const recipe = new HgdRecipe(nets.purifier, nets.target, { examples: 'oblivious', guidance: 'features', guidanceFeature: 'hidden' });
    const { before, after } = runStep(backend, nets, recipe, pairedBatch());
    const fgd = (q: Params, layer: 'logits' | 'hidden'): number => {
      const reference = target64(before, XR)[layer];
      const guide = target64(q, purifier64(q, XAR))[layer];
      return meanAll(guide.map((r, i) => r.map((u, j) => Math.abs(u - reference[i]![j]!))));
    };
    const replay = (f: (q: Params) => number): Params => step64(before, P_NAMES, f);
    check(after, replay((q) => fgd(q, 'hidden')), { 'logit guidance instead of the feature': replay((q) => fgd(q, 'logits')) }, 'HGD (FGD)');
    await tf.setBackend('cpu');
  });
}

// ---------------------------------------------------------------------------------------------------
// NRP
// ---------------------------------------------------------------------------------------------------

interface NrpVariant {
  adversarial: number;
  pixel: number;
  feature: number;
  /** The generator loss with the discriminator's labels (sign of the game flipped). */
  generatorLabelsFlipped: boolean;
  /** D step on P before its update. */
  dOnOldPurifier: boolean;
}
const NRP_SPEC: NrpVariant = { adversarial: 5e-3, pixel: 1e-2, feature: 1, generatorLabelsFlipped: false, dOnOldPurifier: false };

/** BCE-with-logits, mean: target 1 -> softplus(-z), target 0 -> softplus(z). */
const bceLogits = (z: number[], target: 0 | 1): number => mean(z.map((v) => softplus(target === 1 ? -v : v)));

/** Relativistic average loss: [BCE(dR - mean dF, a) + BCE(dF - mean dR, b)] / 2. */
function relativistic(dR: number[], dF: number[], a: 0 | 1, b: 0 | 1): number {
  const mR = mean(dR);
  const mF = mean(dF);
  return (bceLogits(dR.map((v) => v - mF), a) + bceLogits(dF.map((v) => v - mR), b)) / 2;
}

/** NRP (spec §4.3) in float64: P step on α L_RaGAN(G) + γ MSE + λ feature MSE, then D step on L_RaGAN(D) with the new P(x'). */
function nrp64(p0: Params, v: NrpVariant): Params {
  const phiNatural = target64(p0, XR).hidden; // Φ(x): T is frozen
  const dReal = (q: Params): number[] => discriminator64(q, XR, false);
  const p1 = step64(p0, P_NAMES, (q) => {
    const purified = purifier64(q, XAR);
    const dF = discriminator64(q, purified, false);
    const adv = v.generatorLabelsFlipped ? relativistic(dReal(q), dF, 1, 0) : relativistic(dReal(q), dF, 0, 1);
    const pixel = meanAll(purified.map((r, i) => r.map((u, j) => (u - XR[i]![j]!) ** 2)));
    const feat = target64(q, purified).hidden;
    const feature = meanAll(feat.map((r, i) => r.map((u, j) => (u - phiNatural[i]![j]!) ** 2)));
    return v.adversarial * adv + v.pixel * pixel + v.feature * feature;
  });
  const fake = purifier64(v.dOnOldPurifier ? p0 : p1, XAR); // detached for the D step
  return step64(p1, D_NAMES, (q) => relativistic(dReal(q), discriminator64(q, fake, false), 1, 0));
}

for (const backend of BACKENDS) {
  test(`NRP step: P step on 5e-3 RaGAN + 1e-2 MSE + 1 feature MSE, then D step on the updated P, equal the float64 replay (${backend})`, async () => {
    await tf.setBackend(backend);
    const nets = makeNets(false);
    const recipe = new NrpRecipe(nets.purifier, nets.discriminator, nets.target, { examples: 'oblivious' });
    const { before, after } = runStep(backend, nets, recipe, pairedBatch());
    const replay = (v: Partial<NrpVariant>): Params => nrp64(before, { ...NRP_SPEC, ...v });
    check(after, replay({}), {
      'adversarial weight 0': replay({ adversarial: 0 }),
      'generator loss with the discriminator labels': replay({ generatorLabelsFlipped: true }),
      'pixel weight 1 instead of 1e-2': replay({ pixel: 1 }),
      'feature term dropped': replay({ feature: 0 }),
      'D step on the purifier before its update': replay({ dOnOldPurifier: true }),
    }, 'NRP');
    await tf.setBackend('cpu');
  });
}

// The float64 helpers above must not mistake a mirror for the code under test: a sanity check that
// the tiny tfjs networks and their float64 mirrors agree on the forward pass.
test('tiny networks and their float64 mirrors compute the same forward pass', () => {
  const nets = makeNets(true);
  const p = paramsOfNets(nets);
  const x = image(X);
  for (const mode of ['eval', 'train'] as const) {
    const got = tf.tidy(() => nets.target.apply(nets.purifier.apply(x) as tf.Tensor4D, mode === 'train').dataSync());
    const want = target64(p, purifier64(p, XR), mode).logits.flat();
    want.forEach((w, i) => assert.ok(Math.abs(got[i]! - w) < 1e-5, `${mode} logit ${i}: ${got[i]} vs ${w}`));
  }
  const dGot = tf.tidy(() => nets.discriminator.apply(x).dataSync());
  discriminator64(p, XR, true).forEach((w, i) => assert.ok(Math.abs(dGot[i]! - w) < 1e-6, `D ${i}`));
  x.dispose();
  nets.purifier.dispose();
  nets.target.dispose();
  nets.discriminator.dispose();
});
