/**
 * The APE-G training step of bench/train-steps.ts at the `cpu` experiment scale on Fashion-MNIST:
 * the APE-G generator and discriminator (registry builders at 28x28x1), the preset's oblivious
 * examples as a paired batch (natural | adversarial channels), one discriminator update then two
 * generator updates (ξ 0.7 / 0.3), Adam 2e-4 (0.5, 0.999) on both — through the toolkit's ApegRecipe.
 * The adversarial half is a fixed ε-ball perturbation of the natural one (the step's cost does not
 * depend on where the pairs came from; training reads them from a cache).
 *
 * For the PyTorch twin the generator goes through the toolkit's PyTorch exporter; the discriminator
 * flattens an NHWC map, which the exporter refuses, so its weights are written in the toolkit's own
 * layout and reference_models.ApegDiscriminator.load_toolkit_layout reorders them.
 */
import fs from 'node:fs';
import path from 'node:path';

import * as tf from '@tensorflow/tfjs-core';

import { ApegRecipe } from '../src/defenses/apeg.js';
import type { DefenseConfig } from '../src/defenses/presets.js';
import { SCALE_SETTINGS } from '../src/experiments/suite/scales.js';
import { buildClassifier, buildNetwork } from '../src/models/architectures.js';
import { exportPytorch, toPytorchStateDict } from '../src/models/pytorch.js';
import type { Classifier, Network } from '../src/models/types.js';
import { writeSafetensors } from '../src/io/safetensors.js';
import { Adam } from '../src/training/optim.js';
import type { Batch } from '../src/training/types.js';
import { STEP_DATASET, compareGradients, hostTensor, lossRelativeError } from './train-steps-jatp.js';

export interface ApegStepSetup {
  readonly config: DefenseConfig;
  readonly generator: Network;
  readonly discriminator: Network;
  readonly target: Classifier;
  readonly recipe: ApegRecipe;
  readonly optimizers: { generator: Adam; discriminator: Adam };
  readonly natural: tf.Tensor4D;
  readonly adversarial: tf.Tensor4D;
  /** The paired batch the recipe's step receives (channels natural | adversarial). */
  readonly batch: Batch;
  dispose(): void;
}

/** The cpu-scale APE-G step on `natural` (28x28x1 images) with `adversarial` as its oblivious pairs. */
export function buildApegStep(seed: number, natural: tf.Tensor4D, adversarial: tf.Tensor4D, y: tf.Tensor1D): ApegStepSetup {
  const scale = SCALE_SETTINGS.cpu;
  const config = scale.defenseConfig('apeg', STEP_DATASET, undefined, 'none');
  if (config.purifier.arch !== 'apeg-generator' || config.discriminator?.arch !== 'apeg-discriminator' || config.baseline?.examples !== 'oblivious') {
    throw new Error(`bench/train-steps.ts: the cpu scale's APE-G changed (${config.purifier.arch}, ${config.discriminator?.arch}, ${config.baseline?.examples}); reference_models.py has apeg-generator + apeg-discriminator on oblivious pairs`);
  }
  const [, side, , channels] = natural.shape;
  const shape = { inChannels: channels, inputSize: side };
  const targetConfig = scale.targetConfig('trades', STEP_DATASET, seed);
  const target = buildClassifier(targetConfig.arch, { ...targetConfig.archOptions, ...shape, numClasses: 10, seed });
  const generator = buildNetwork(config.purifier.arch, { ...config.purifier.options, ...shape, seed: seed + 1 });
  const discriminator = buildNetwork(config.discriminator.arch, { ...config.discriminator.options, ...shape, seed: seed + 2 });
  const recipe = new ApegRecipe(generator, discriminator, target, { examples: 'oblivious' });
  const groups = recipe.variableGroups();
  const optimizers = {
    generator: new Adam(groups['generator']!, config.optimizers['generator'] as { lr: number }),
    discriminator: new Adam(groups['discriminator']!, config.optimizers['discriminator'] as { lr: number }),
  };
  const batch = { x: tf.concat([natural, adversarial], 3) as tf.Tensor4D, y };
  return {
    config, generator, discriminator, target, recipe, optimizers, natural, adversarial, batch,
    dispose: () => {
      batch.x.dispose();
      optimizers.generator.dispose();
      optimizers.discriminator.dispose();
      generator.dispose();
      discriminator.dispose();
      target.dispose();
    },
  };
}

/** The discriminator's weights by name in the toolkit's layout (HWIO, [in, out], NHWC flatten order). */
function toolkitLayout(net: Network): Map<string, ReturnType<typeof hostTensor>> {
  return new Map([...net.namedWeights()].map(([name, v]) => [name, hostTensor(v)]));
}

export async function writeApegStepForReference(dir: string, s: ApegStepSetup): Promise<void> {
  await exportPytorch(s.generator, path.join(dir, 'generator.safetensors'));
  await writeSafetensors(path.join(dir, 'discriminator.safetensors'), toolkitLayout(s.discriminator));
  await writeSafetensors(path.join(dir, 'inputs.safetensors'), new Map([['natural', hostTensor(s.natural)], ['adversarial', hostTensor(s.adversarial)]]));
  const adam = s.config.optimizers['generator'] as { lr: number; beta1?: number; beta2?: number };
  const meta = {
    method: 'apeg',
    generator: s.generator.options,
    discriminator: s.discriminator.options,
    generatorSteps: s.recipe.options.generatorSteps,
    adam: { lr: adam.lr, beta1: adam.beta1 ?? 0.9, beta2: adam.beta2 ?? 0.999 },
  };
  fs.writeFileSync(path.join(dir, 'meta.json'), JSON.stringify(meta));
}

export interface ApegProbe {
  readonly loss: Record<'lossD' | 'lossG' | 'mse' | 'adversarial', number>;
  readonly gradsD: Map<string, Float32Array>;
  readonly gradsG: Map<string, Float32Array>;
}

/** A discriminator gradient in PyTorch's layout: OIHW kernels, [out, in] linear in (c, h, w) order. */
function discriminatorGradToTorch(name: string, g: tf.Tensor, flatSide: number): Float32Array {
  return tf.tidy(() => {
    let t = g;
    if (g.rank === 4) t = tf.transpose(g, [3, 2, 0, 1]);
    else if (name === 'fc.0.weight') t = tf.reshape(tf.transpose(tf.reshape(g, [flatSide, flatSide, 256, 1]), [3, 2, 0, 1]), [1, -1]);
    return Float32Array.from(t.dataSync() as Float32Array);
  });
}

/** Both objectives of the recipe and their gradients at the current weights (G's with D unchanged). */
export function probeApegStep(s: ApegStepSetup): ApegProbe {
  const groups = s.recipe.variableGroups();
  const fake = tf.tidy(() => s.generator.apply(s.adversarial, true) as tf.Tensor4D);
  const d = tf.variableGrads(() => s.recipe.discriminatorObjective(s.natural, fake).total, groups['discriminator']!);
  fake.dispose();
  let metrics: Record<string, tf.Scalar> = {};
  const g = tf.variableGrads(() => {
    const out = s.recipe.generatorObjective(s.natural, s.adversarial);
    metrics = out.metrics;
    for (const m of Object.values(metrics)) tf.keep(m);
    return out.total;
  }, groups['generator']!);
  const read = (t: tf.Scalar): number => t.dataSync()[0]!;
  const loss = { lossD: read(d.value), lossG: read(g.value), mse: read(metrics['mse']!), adversarial: read(metrics['adversarial']!) };
  const side = Number(s.discriminator.options['inputSize']);
  const down = (n: number): number => Math.floor((n - 3) / 2) + 1;
  const flatSide = down(down(down(side)));
  const gradsD = new Map<string, Float32Array>();
  for (const [name, v] of s.discriminator.namedWeights()) {
    const grad = d.grads[v.name];
    if (grad !== undefined) gradsD.set(name, discriminatorGradToTorch(name, grad, flatSide));
  }
  const gradNet = buildNetwork(s.generator.arch, s.generator.options);
  const ours = s.generator.namedWeights();
  for (const [name, v] of gradNet.namedWeights()) {
    const grad = g.grads[ours.get(name)!.name];
    if (grad !== undefined) v.assign(grad);
  }
  const trainable = new Set([...ours].filter(([, v]) => v.trainable).map(([n]) => n));
  const gradsG = new Map([...toPytorchStateDict(gradNet)].filter(([k]) => trainable.has(k)).map(([k, t]) => [k, Float32Array.from(t.data as Float32Array)]));
  gradNet.dispose();
  tf.dispose([d.value, g.value, ...Object.values(d.grads), ...Object.values(g.grads), ...Object.values(metrics)]);
  return { loss, gradsD, gradsG };
}

/** How a GAN-trained step's port compares with PyTorch (APE-G's; NRP's adds its SSP check). */
export interface ApegPortReport {
  /** Largest |ours - theirs| / max(1, |theirs|) over the loss terms. */
  readonly lossRelative: number;
  /** compareGradients of ours against PyTorch's float32 gradients. */
  readonly gradRelativeD: number;
  readonly gradRelativeG: number;
  /** compareGradients of ours, and of PyTorch's float32, against PyTorch's float64 evaluation. */
  readonly oursVs64: { d: number; g: number };
  readonly torch32Vs64: { d: number; g: number };
}

type Grads = Record<string, number[]>;
const asMap = (g: Grads): Map<string, Float32Array> => new Map(Object.entries(g).map(([k, v]) => [k, Float32Array.from(v)]));

/** Our losses and float32 gradients of a discriminator (D) and a generator or purifier (G). */
export type GanProbe = { readonly loss: Readonly<Record<string, number>>; readonly gradsD: Map<string, Float32Array>; readonly gradsG: Map<string, Float32Array> };
/** PyTorch's losses, float32 gradients and float64 gradients of the same two networks. */
export type GanReferenceProbe = { loss: Record<string, number>; gradsD: Grads; gradsG: Grads; gradsD64: Grads; gradsG64: Grads };

/** Compares a two-network step's loss terms and gradients with PyTorch's (used by APE-G's and NRP's checks). */
export function compareApegPorts(ours: GanProbe, theirs: GanReferenceProbe): ApegPortReport {
  return {
    lossRelative: lossRelativeError(ours.loss, theirs.loss),
    gradRelativeD: compareGradients(ours.gradsD, theirs.gradsD),
    gradRelativeG: compareGradients(ours.gradsG, theirs.gradsG),
    oursVs64: { d: compareGradients(ours.gradsD, theirs.gradsD64), g: compareGradients(ours.gradsG, theirs.gradsG64) },
    torch32Vs64: { d: compareGradients(asMap(theirs.gradsD), theirs.gradsD64), g: compareGradients(asMap(theirs.gradsG), theirs.gradsG64) },
  };
}

/**
 * The port holds when the losses agree to 1e-5 and our float32 gradients are as close to the float64
 * evaluation as PyTorch's float32 ones are (within 2x, or 1e-5 of the largest gradient).
 */
export function apegPortHolds(r: ApegPortReport): boolean {
  const asGood = (ours: number, torch32: number): boolean => ours <= Math.max(2 * torch32, 1e-5);
  return r.lossRelative < 1e-5 && asGood(r.oursVs64.d, r.torch32Vs64.d) && asGood(r.oursVs64.g, r.torch32Vs64.g);
}
