/**
 * The NRP training step of bench/train-steps.ts at the `cpu` experiment scale on Fashion-MNIST:
 * the NRP purifier (defense preset: nf 16, gc 8, nb 1) and its relativistic discriminator
 * (numFeat 8) at 28x28x1, in front of the frozen small-cnn target (width 8) whose 'block3' features
 * are Φ, on a paired batch (natural | SSP examples). One step = one purifier Adam update on
 * 5e-3 L_RaGAN + 1e-2 MSE(P(x'), x) + MSE(Φ(P(x')), Φ(x)), then one discriminator Adam update on
 * the relativistic loss with P(x') detached (Adam 1e-3, wd 2e-4 on both) — through the toolkit's
 * NrpRecipe. The SSP examples come from the preset's oblivious attack (train.ts `obliviousSpec`:
 * 20 sign steps of 0.0319 in the ε = 0.1 ball on Φ, uniform start), crafted by the toolkit's
 * FeatureAttack as example-cache.ts does; training crafts them once per image and caches them, so
 * the bench times the SSP crafting of one batch separately from the step.
 *
 * For the PyTorch twin the purifier goes through the toolkit's PyTorch exporter, the target too;
 * the discriminator flattens an NHWC map, which the exporter refuses, so its weights are written in
 * the toolkit's layout and reference_models.NrpDiscriminator.load_toolkit_layout reorders them.
 */
import fs from 'node:fs';
import path from 'node:path';

import * as tf from '@tensorflow/tfjs-core';

import { FeatureAttack } from '../src/attacks/feature-attack.js';
import { NrpRecipe } from '../src/defenses/nrp.js';
import type { DefenseConfig } from '../src/defenses/presets.js';
import { obliviousSpec } from '../src/defenses/train.js';
import { SCALE_SETTINGS } from '../src/experiments/suite/scales.js';
import { buildClassifier, buildNetwork } from '../src/models/architectures.js';
import { exportPytorch, toPytorchStateDict } from '../src/models/pytorch.js';
import type { Classifier, Network } from '../src/models/types.js';
import { writeSafetensors } from '../src/io/safetensors.js';
import { Adam } from '../src/training/optim.js';
import type { Batch } from '../src/training/types.js';
import { compareApegPorts, type ApegPortReport, type GanReferenceProbe } from './train-steps-apeg.js';
import { STEP_DATASET, compareCrafted, hostTensor } from './train-steps-jatp.js';

export interface NrpStepSetup {
  readonly config: DefenseConfig;
  readonly purifier: Network;
  readonly discriminator: Network;
  readonly target: Classifier;
  readonly recipe: NrpRecipe;
  /** The preset's SSP attack (train.ts obliviousSpec), as example-cache.ts runs it. */
  readonly ssp: FeatureAttack;
  readonly optimizers: { generator: Adam; discriminator: Adam };
  readonly natural: tf.Tensor4D;
  /** SSP examples of `natural` (seeded uniform start). */
  readonly adversarial: tf.Tensor4D;
  /** The paired batch the recipe's step receives (channels natural | adversarial). */
  readonly batch: Batch;
  /** SSP of `x` as training crafts its cached examples: Φ = the target's feature map in eval mode. */
  craftSsp(x: tf.Tensor4D, seed: number, start?: tf.Tensor4D): tf.Tensor4D;
  dispose(): void;
}

/** The cpu-scale NRP step on `natural` (28x28x1 images), its adversarial half crafted by the preset's SSP. */
export function buildNrpStep(seed: number, natural: tf.Tensor4D, y: tf.Tensor1D): NrpStepSetup {
  const scale = SCALE_SETTINGS.cpu;
  const config = scale.defenseConfig('nrp', STEP_DATASET, undefined, 'none');
  const targetConfig = scale.targetConfig('trades', STEP_DATASET, seed);
  if (config.purifier.arch !== 'nrp' || config.discriminator?.arch !== 'nrp-discriminator' || config.baseline?.examples !== 'oblivious' || targetConfig.arch !== 'small-cnn') {
    throw new Error(`bench/train-steps.ts: the cpu scale's NRP changed (${config.purifier.arch}, ${config.discriminator?.arch}, ${config.baseline?.examples}, target ${targetConfig.arch}); ` +
      'reference_models.py has nrp + nrp-discriminator on oblivious SSP pairs in front of small-cnn');
  }
  const [, side, , channels] = natural.shape;
  const shape = { inChannels: channels, inputSize: side };
  const target = buildClassifier(targetConfig.arch, { ...targetConfig.archOptions, ...shape, numClasses: 10, seed });
  const purifier = buildNetwork(config.purifier.arch, { ...config.purifier.options, ...shape, seed: seed + 1 });
  const discriminator = buildNetwork(config.discriminator.arch, { ...config.discriminator.options, ...shape, seed: seed + 2 });
  const b = config.baseline;
  // As train.ts buildDefense constructs it.
  const recipe = new NrpRecipe(purifier, discriminator, target, { examples: b.examples, ...(b.featureLayer ? { featureLayer: b.featureLayer } : {}) });
  const spec = obliviousSpec(config);
  if (spec.kind !== 'ssp') throw new Error(`bench/train-steps.ts: NRP's oblivious examples are now '${spec.kind}', not SSP`);
  const ssp = new FeatureAttack({ eps: spec.eps, steps: spec.steps, stepSize: spec.stepSize, randomStart: true });
  const craftSsp = (x: tf.Tensor4D, s: number, start?: tf.Tensor4D): tf.Tensor4D => ssp.craft((z) => recipe.phi(z), x, s, start);
  const groups = recipe.variableGroups();
  const optimizers = {
    generator: new Adam(groups['generator']!, config.optimizers['generator'] as { lr: number; weightDecay?: number }),
    discriminator: new Adam(groups['discriminator']!, config.optimizers['discriminator'] as { lr: number; weightDecay?: number }),
  };
  const adversarial = craftSsp(natural, seed + 3);
  const batch = { x: tf.concat([natural, adversarial], 3) as tf.Tensor4D, y };
  return {
    config, purifier, discriminator, target, recipe, ssp, optimizers, natural, adversarial, batch, craftSsp,
    dispose: () => {
      tf.dispose([batch.x, adversarial]);
      optimizers.generator.dispose();
      optimizers.discriminator.dispose();
      purifier.dispose();
      discriminator.dispose();
      target.dispose();
    },
  };
}

/** Writes meta.json, purifier/target.safetensors (exporter), discriminator.safetensors (toolkit layout), inputs.safetensors. */
export async function writeNrpStepForReference(dir: string, s: NrpStepSetup, sspStart: tf.Tensor4D): Promise<void> {
  await exportPytorch(s.purifier, path.join(dir, 'purifier.safetensors'));
  await exportPytorch(s.target, path.join(dir, 'target.safetensors'));
  await writeSafetensors(path.join(dir, 'discriminator.safetensors'), new Map([...s.discriminator.namedWeights()].map(([n, v]) => [n, hostTensor(v)])));
  await writeSafetensors(path.join(dir, 'inputs.safetensors'), new Map([
    ['natural', hostTensor(s.natural)], ['adversarial', hostTensor(s.adversarial)], ['ssp_start', hostTensor(sspStart)],
  ]));
  const adam = (g: string) => {
    const o = s.config.optimizers[g] as { lr: number; beta1?: number; beta2?: number; epsilon?: number; weightDecay?: number };
    return { lr: o.lr, beta1: o.beta1 ?? 0.9, beta2: o.beta2 ?? 0.999, epsilon: o.epsilon ?? 1e-8, weightDecay: o.weightDecay ?? 0 };
  };
  const o = s.ssp.options;
  const meta = {
    method: 'nrp',
    targetArch: s.target.arch,
    target: s.target.options,
    purifier: s.purifier.options,
    discriminator: s.discriminator.options,
    featureLayer: s.recipe.featureName,
    weights: s.recipe.options.weights,
    ssp: { eps: o.eps, steps: o.steps, stepSize: o.stepSize },
    adam: { generator: adam('generator'), discriminator: adam('discriminator') },
  };
  fs.writeFileSync(path.join(dir, 'meta.json'), JSON.stringify(meta));
}

export interface NrpProbe {
  readonly loss: Record<'lossG' | 'lossGAdv' | 'pixel' | 'feature' | 'lossD', number>;
  readonly gradsG: Map<string, Float32Array>;
  readonly gradsD: Map<string, Float32Array>;
  /** SSP from the common start, NHWC. */
  readonly crafted: Float32Array;
}

/** A discriminator gradient in PyTorch's layout: OIHW kernels, [out, in] linear, linear1's inputs in (c, h, w) order. */
function discriminatorGradToTorch(name: string, g: tf.Tensor, flatSide: number, flatChannels: number): Float32Array {
  return tf.tidy(() => {
    let t = g;
    if (g.rank === 4) t = tf.transpose(g, [3, 2, 0, 1]);
    else if (name === 'linear1.weight') {
      const units = g.shape[1]!;
      t = tf.reshape(tf.transpose(tf.reshape(g, [flatSide, flatSide, flatChannels, units]), [3, 2, 0, 1]), [units, -1]);
    } else if (g.rank === 2) t = tf.transpose(g);
    return Float32Array.from(t.dataSync() as Float32Array);
  });
}

/** The side and channels of the map the NRP discriminator flattens (models/nrp.ts: four 4x4 s2 p1 stages). */
export function nrpDiscriminatorFlat(options: Record<string, unknown>): { side: number; channels: number } {
  let side = Number(options['inputSize']);
  for (let i = 0; i < 4; i++) side = Math.floor((side + 2 - 4) / 2) + 1;
  return { side, channels: 4 * Number(options['numFeat']) };
}

/**
 * Both objectives of the recipe and their gradients at the current weights (the purifier's with D
 * unchanged; D's on P(x') of the same weights), and the SSP from `sspStart`.
 */
export function probeNrpStep(s: NrpStepSetup, sspStart: tf.Tensor4D): NrpProbe {
  const groups = s.recipe.variableGroups();
  const phiNatural = tf.tidy(() => s.recipe.phi(s.natural));
  let metrics: Record<string, tf.Scalar> = {};
  const g = tf.variableGrads(() => {
    const out = s.recipe.generatorObjective(s.natural, s.adversarial, phiNatural);
    metrics = out.metrics;
    for (const m of Object.values(metrics)) tf.keep(m);
    return out.total;
  }, groups['generator']!);
  const purified = tf.tidy(() => s.purifier.apply(s.adversarial, false) as tf.Tensor4D);
  const d = tf.variableGrads(() => s.recipe.discriminatorObjective(s.natural, purified).total, groups['discriminator']!);
  const read = (t: tf.Scalar): number => t.dataSync()[0]!;
  const loss = { lossG: read(g.value), lossGAdv: read(metrics['lossGAdv']!), pixel: read(metrics['pixel']!), feature: read(metrics['feature']!), lossD: read(d.value) };
  const flat = nrpDiscriminatorFlat(s.discriminator.options);
  const gradsD = new Map<string, Float32Array>();
  for (const [name, v] of s.discriminator.namedWeights()) {
    const grad = d.grads[v.name];
    if (grad !== undefined) gradsD.set(name, discriminatorGradToTorch(name, grad, flat.side, flat.channels));
  }
  const gradNet = buildNetwork(s.purifier.arch, s.purifier.options);
  const ours = s.purifier.namedWeights();
  for (const [name, v] of gradNet.namedWeights()) {
    const grad = g.grads[ours.get(name)!.name];
    if (grad === undefined) throw new Error(`probeNrpStep: no gradient for ${name}`);
    v.assign(grad);
  }
  const gradsG = new Map([...toPytorchStateDict(gradNet)].map(([k, t]) => [k, Float32Array.from(t.data as Float32Array)]));
  gradNet.dispose();
  tf.dispose([phiNatural, purified, g.value, d.value, ...Object.values(g.grads), ...Object.values(d.grads), ...Object.values(metrics)]);
  const craftedT = s.craftSsp(s.natural, 0, sspStart);
  const crafted = Float32Array.from(craftedT.dataSync() as Float32Array);
  craftedT.dispose();
  return { loss, gradsG, gradsD, crafted };
}

/** APE-G's port report plus the SSP examples crafted from a common start. */
export interface NrpPortReport extends ApegPortReport {
  /** Fraction of SSP elements that differ by more than 1e-5 (a sign step flipped where a gradient is ~0). */
  readonly craftedMismatch: number;
  readonly craftedMaxDiff: number;
}

/** PyTorch's side of the NRP check: the two networks' losses and gradients, and its SSP examples. */
export type NrpReferenceProbe = GanReferenceProbe & { crafted: number[] };

export function compareNrpPorts(ours: NrpProbe, theirs: NrpReferenceProbe): NrpPortReport {
  return { ...compareApegPorts(ours, theirs), ...compareCrafted(ours.crafted, theirs.crafted, 'SSP') };
}

/**
 * The port holds when the loss terms agree to 1e-5, each network's gradients agree with PyTorch's
 * float32 ones to 1e-4 of its largest element or are as close to the float64 evaluation as PyTorch's
 * float32 ones (within 2x, or 1e-5: the GAN's float32 gradients can be ill-conditioned, as APE-G's
 * are), and at most 0.2% of the SSP elements differ.
 */
export function nrpPortHolds(r: NrpPortReport): boolean {
  const gradOk = (direct: number, ours64: number, torch64: number): boolean => direct < 1e-4 || ours64 <= Math.max(2 * torch64, 1e-5);
  return r.lossRelative < 1e-5 && gradOk(r.gradRelativeG, r.oursVs64.g, r.torch32Vs64.g) && gradOk(r.gradRelativeD, r.oursVs64.d, r.torch32Vs64.d) && r.craftedMismatch < 2e-3;
}
