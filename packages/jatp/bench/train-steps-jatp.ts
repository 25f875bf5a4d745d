/**
 * The JATP training step of bench/train-steps.ts at the `cpu` experiment scale on Fashion-MNIST:
 * the JATP purifier (defense preset: nf 16, gc 8, nb 1) trained in front of the frozen small-cnn
 * target (target preset: width 8), batch 50, feature attack K = 5 sign steps on the target's
 * 'block3' features (ε 0.1, step 0.01 scaled by ε / (8/255), as the scale sets them), loss α 5 β 3,
 * SGD lr 1e-3 momentum 0.9 weight decay 2e-4 — everything from the toolkit's presets, through the
 * toolkit's JatpRecipe.
 *
 * For the PyTorch twin (train_steps_reference.py, networks and losses in reference_models.py) both
 * networks are written with the toolkit's PyTorch exporter; `probeJatpStep` gives the loss terms,
 * the purifier's gradients in PyTorch names and layouts, and x~ crafted from a given start, which
 * the twin must reproduce before anything is timed.
 */
import fs from 'node:fs';
import path from 'node:path';

import * as tf from '@tensorflow/tfjs-core';

import { JatpRecipe } from '../src/defenses/jatp.js';
import type { DefenseConfig } from '../src/defenses/presets.js';
import { SCALE_SETTINGS } from '../src/experiments/suite/scales.js';
import { buildClassifier, buildNetwork } from '../src/models/architectures.js';
import { exportPytorch, toPytorchStateDict } from '../src/models/pytorch.js';
import type { Classifier, Network } from '../src/models/types.js';
import { writeSafetensors } from '../src/io/safetensors.js';
import type { TensorToWrite } from '../src/io/safetensors-codec.js';
import { SgdMomentum } from '../src/training/optim.js';
import type { Batch } from '../src/training/types.js';

export const STEP_DATASET = 'fashion-mnist';

/** A tensor's values on the host, for writing to safetensors (int32 stays int32). */
export function hostTensor(t: tf.Tensor): TensorToWrite {
  const data = t.dtype === 'int32' ? Int32Array.from(t.dataSync() as Int32Array) : Float32Array.from(t.dataSync() as Float32Array);
  return { shape: t.shape, data };
}

export interface JatpStepSetup {
  readonly config: DefenseConfig;
  readonly target: Classifier;
  readonly purifier: Network;
  readonly recipe: JatpRecipe;
  readonly optimizer: SgdMomentum;
  readonly batch: Batch;
  dispose(): void;
}

/** The cpu-scale JATP step on `batch` (28x28x1 images), networks seeded with `seed`. */
export function buildJatpStep(seed: number, batch: Batch): JatpStepSetup {
  const scale = SCALE_SETTINGS.cpu;
  const config = scale.defenseConfig('jatp', STEP_DATASET, undefined, 'none');
  const targetConfig = scale.targetConfig('trades', STEP_DATASET, seed);
  const [, side, , channels] = batch.x.shape;
  // train_steps_reference.py has PyTorch twins of exactly these two architectures.
  if (targetConfig.arch !== 'small-cnn' || config.purifier.arch !== 'jatp-purifier' || config.optimizers['main']?.kind !== 'sgd') {
    throw new Error(`bench/train-steps.ts: the cpu scale now uses ${targetConfig.arch} + ${config.purifier.arch}; train_steps_reference.py has small-cnn + jatp-purifier with SGD`);
  }
  const shape = { inChannels: channels, inputSize: side };
  const target = buildClassifier(targetConfig.arch, { ...targetConfig.archOptions, ...shape, numClasses: 10, seed });
  const purifier = buildNetwork(config.purifier.arch, { ...config.purifier.options, ...shape, seed: seed + 1 });
  const j = config.jatp!;
  const recipe = new JatpRecipe(purifier, target, { featureLayer: j.featureLayer, eps: j.eps, attackSteps: j.attackSteps, attackStepSize: j.attackStepSize, loss: j.loss });
  const optimizer = new SgdMomentum(recipe.variableGroups()['main']!, config.optimizers['main']!);
  return {
    config,
    target,
    purifier,
    recipe,
    optimizer,
    batch,
    dispose: () => {
      optimizer.dispose();
      target.dispose();
      purifier.dispose();
    },
  };
}

function sgdSettings(config: DefenseConfig): { lr: number; momentum: number; weightDecay: number } {
  const o = config.optimizers['main'] as { lr: number; momentum?: number; weightDecay?: number };
  return { lr: o.lr, momentum: o.momentum ?? 0, weightDecay: o.weightDecay ?? 0 };
}

/** Writes meta.json, purifier/target.safetensors and inputs.safetensors (x, y, x_adv, start) for the twin. */
export async function writeJatpStepForReference(dir: string, s: JatpStepSetup, xAdv: tf.Tensor4D, start: tf.Tensor4D): Promise<void> {
  await exportPytorch(s.purifier, path.join(dir, 'purifier.safetensors'));
  await exportPytorch(s.target, path.join(dir, 'target.safetensors'));
  await writeSafetensors(path.join(dir, 'inputs.safetensors'), new Map([
    ['x', hostTensor(s.batch.x)], ['y', hostTensor(s.batch.y)], ['x_adv', hostTensor(xAdv)], ['start', hostTensor(start)],
  ]));
  const o = s.recipe.options;
  const meta = {
    targetArch: s.target.arch,
    purifierArch: s.purifier.arch,
    target: s.target.options,
    purifier: s.purifier.options,
    jatp: { featureLayer: s.recipe.featureName, eps: o.eps, attackSteps: o.attackSteps, attackStepSize: o.attackStepSize, alpha: o.loss.alpha, beta: o.loss.beta },
    sgd: sgdSettings(s.config),
  };
  fs.writeFileSync(path.join(dir, 'meta.json'), JSON.stringify(meta));
}

export interface JatpStepProbe {
  readonly loss: Record<'total' | 'bce' | 'fsm' | 'pixel', number>;
  /** d loss / d parameter, by PyTorch name, in PyTorch's layout. */
  readonly grads: Map<string, Float32Array>;
  /** x~ of the feature attack from `start`, NHWC. */
  readonly crafted: Float32Array;
}

/**
 * What the port check compares: the recipe's own objective and its gradient at (x, xAdv), and its
 * own feature attack from `start`. The gradients go through the exporter's name and layout mapping
 * by loading them into a second purifier of the same architecture.
 */
export function probeJatpStep(s: JatpStepSetup, xAdv: tf.Tensor4D, start: tf.Tensor4D): JatpStepProbe {
  const vars = s.recipe.variableGroups()['main']!;
  let metrics: Record<string, tf.Scalar> = {};
  const { value, grads } = tf.variableGrads(() => {
    const out = s.recipe.objective(s.batch, xAdv);
    metrics = out.metrics;
    for (const m of Object.values(metrics)) tf.keep(m);
    return out.total;
  }, vars);
  const read = (t: tf.Scalar): number => t.dataSync()[0]!;
  const loss = { total: read(value), bce: read(metrics['bce']!), fsm: read(metrics['fsm']!), pixel: read(metrics['pixel']!) };
  const gradNet = buildNetwork(s.purifier.arch, s.purifier.options);
  const ours = s.purifier.namedWeights();
  for (const [name, v] of gradNet.namedWeights()) {
    const g = grads[ours.get(name)!.name];
    if (g === undefined) throw new Error(`probeJatpStep: no gradient for ${name}`);
    v.assign(g);
  }
  const exported = new Map([...toPytorchStateDict(gradNet)].map(([k, t]) => [k, Float32Array.from(t.data as Float32Array)]));
  gradNet.dispose();
  tf.dispose([value, ...Object.values(grads), ...Object.values(metrics)]);
  const craftedT = s.recipe.craftAdversarial(s.batch.x, 0, start);
  const crafted = Float32Array.from(craftedT.dataSync() as Float32Array);
  craftedT.dispose();
  return { loss, grads: exported, crafted };
}

export interface PortReport {
  /** Largest |ours - theirs| / max(1, |theirs|) over the four loss terms. */
  readonly lossRelative: number;
  /** compareGradients over the purifier's parameters. */
  readonly gradRelative: number;
  /** Fraction of x~ elements that differ by more than 1e-5 (a sign step flipped where a gradient is ~0). */
  readonly craftedMismatch: number;
  /** Largest |x~ ours - x~ theirs|. */
  readonly craftedMaxDiff: number;
}

/**
 * Largest |g_ours - g_theirs| over every element of every parameter, divided by the largest
 * |g_theirs| of the whole network (the parameter names must match). Relative to the network's
 * largest gradient, not each tensor's: a convolution bias before training-mode batch norm has a
 * gradient that is 0 in exact arithmetic (float rounding noise on both sides), and the GAN's
 * small-gradient tensors differ between any two float32 evaluations by more than 1e-4 of their own
 * size (both sides equally far from a float64 evaluation).
 */
export function compareGradients(ours: ReadonlyMap<string, Float32Array>, theirs: Record<string, number[]>): number {
  const names = [...ours.keys()].filter((n) => !n.endsWith('num_batches_tracked'));
  const theirNames = Object.keys(theirs);
  if (names.sort().join(',') !== theirNames.sort().join(',')) throw new Error(`reference: parameters differ (${names.join(',')} vs ${theirNames.join(',')})`);
  let groupMax = 0;
  let diff = 0;
  for (const n of names) {
    const a = ours.get(n)!;
    const b = theirs[n]!;
    if (a.length !== b.length) throw new Error(`reference: gradient ${n} has ${b.length} elements, ours ${a.length}`);
    for (let i = 0; i < a.length; i++) {
      groupMax = Math.max(groupMax, Math.abs(b[i]!));
      diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    }
  }
  return diff / Math.max(groupMax, 1e-12);
}

/** Largest |ours - theirs| / max(1, |theirs|) over our loss terms; a term PyTorch did not report is an error. */
export function lossRelativeError(ours: Readonly<Record<string, number>>, theirs: Readonly<Record<string, number>>): number {
  let worst = 0;
  for (const [k, v] of Object.entries(ours)) {
    const t = theirs[k];
    if (t === undefined) throw new Error(`reference: no loss term ${k}`);
    worst = Math.max(worst, Math.abs(v - t) / Math.max(1, Math.abs(t)));
  }
  return worst;
}

/**
 * How far an attack's output from a common start is from PyTorch's: the fraction of elements that
 * differ by more than 1e-5 (a sign step flipped where a gradient is ~0) and the largest difference.
 */
export function compareCrafted(ours: ArrayLike<number>, theirs: readonly number[], what: string): { craftedMismatch: number; craftedMaxDiff: number } {
  if (ours.length !== theirs.length) throw new Error(`reference: ${what} sizes differ`);
  let mismatched = 0;
  let craftedMaxDiff = 0;
  for (let i = 0; i < ours.length; i++) {
    const d = Math.abs(ours[i]! - theirs[i]!);
    craftedMaxDiff = Math.max(craftedMaxDiff, d);
    if (d > 1e-5) mismatched++;
  }
  return { craftedMismatch: mismatched / ours.length, craftedMaxDiff };
}

/** Compares the toolkit's probe with the twin's JSON answer (`loss`, `grads`, `crafted`). */
export function comparePorts(ours: JatpStepProbe, theirs: { loss: Record<string, number>; grads: Record<string, number[]>; crafted: number[] }): PortReport {
  return {
    lossRelative: lossRelativeError(ours.loss, theirs.loss),
    gradRelative: compareGradients(ours.grads, theirs.grads),
    ...compareCrafted(ours.crafted, theirs.crafted, 'x~'),
  };
}
