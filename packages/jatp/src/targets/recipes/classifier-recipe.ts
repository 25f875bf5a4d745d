/**
 * What the target-model recipes share (spec §3.2): the inner maximisation used *during training*
 * and a base class that turns "loss of a batch" into a `Recipe` over one classifier.
 *
 * The training attack is not the evaluation PGD of attacks/pgd.ts: it follows the TRADES/MART
 * reference code — start at x + 0.001·N(0, I) (not clipped before the first step), sign steps,
 * projection onto the eps-ball ∩ [0,1] after each step, model in eval mode (running BN statistics,
 * no statistic updates) — and its loss can be TRADES' KL to the clean prediction.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../../models/types.js';
import type { Batch, Recipe } from '../../training/types.js';
import { ensureGradients } from '../../gradients.js';
import { crossEntropyPerExample, klPerExample } from '../../classifier-losses.js';
import { COLOUR_THREAT_MODEL } from '../../data/threat-model.js';

/** Inner attack settings, defaults = spec §3.2 (CIFAR-10: PGD-10, step 0.007, eps 8/255, start std 0.001). */
export interface TrainAttackOptions {
  /** L-inf radius in [0,1] pixel units. */
  eps: number;
  /** Sign-step size. */
  stepSize: number;
  steps: number;
  /** Standard deviation of the Gaussian random start around x. */
  startStd: number;
}

/** The training attack of spec §3.2 on colour data (PGD-10, step 0.007, ε = 8/255, start std 0.001); presets take ε and step from the dataset's threat model. */
export const TRAIN_ATTACK_DEFAULTS: TrainAttackOptions = { eps: COLOUR_THREAT_MODEL.eps, stepSize: COLOUR_THREAT_MODEL.trainAttackStepSize, steps: 10, startStd: 0.001 };

/** Which loss the inner attack ascends. */
export type TrainAttackLoss =
  /** sum_i CE(f(x'_i), y_i) (Standard, MART, MMA-lite) */
  | { kind: 'ce' }
  /** sum_i KL(softmax f(x_i) || softmax f(x'_i)) with the clean logits fixed (TRADES) */
  | { kind: 'kl'; logitsNat: tf.Tensor2D };

export function checkTrainAttackOptions(o: TrainAttackOptions, where: string): void {
  if (!(o.eps >= 0)) throw new Error(`${where}: eps must be >= 0, got ${o.eps}`);
  if (!(o.stepSize > 0)) throw new Error(`${where}: stepSize must be > 0, got ${o.stepSize}`);
  if (!Number.isInteger(o.steps) || o.steps < 0) throw new Error(`${where}: steps must be an integer >= 0, got ${o.steps}`);
  if (!(o.startStd >= 0)) throw new Error(`${where}: startStd must be >= 0, got ${o.startStd}`);
}

/**
 * PGD for adversarial training (spec §3.2 `pgd_train`). Returns x_adv (a new tensor, no gradient
 * history, inside the eps-ball and [0,1]); the caller disposes it. `seed` drives the random start.
 */
export function trainingAttack(
  logits: (x: tf.Tensor4D) => tf.Tensor2D,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  loss: TrainAttackLoss,
  o: TrainAttackOptions,
  seed: number,
): tf.Tensor4D {
  ensureGradients();
  let xa = tf.tidy(() => (o.startStd > 0 ? tf.add(x, tf.randomNormal(x.shape, 0, o.startStd, 'float32', seed)) : tf.clone(x))) as tf.Tensor4D;
  const objective = (xIn: tf.Tensor): tf.Scalar => {
    const z = logits(xIn as tf.Tensor4D);
    // Sums, not means: only the gradient's sign is used, and sums keep per-example gradients unscaled.
    return (loss.kind === 'ce' ? tf.sum(crossEntropyPerExample(z, y)) : tf.sum(klPerExample(loss.logitsNat, z))) as tf.Scalar;
  };
  const gradOf = tf.grad(objective);
  for (let k = 0; k < o.steps; k++) {
    const next = tf.tidy(() => {
      const g = gradOf(xa);
      const stepped = tf.add(xa, tf.mul(tf.sign(g), o.stepSize));
      const inBall = tf.minimum(tf.maximum(stepped, tf.sub(x, o.eps)), tf.add(x, o.eps));
      return tf.clipByValue(inBall, 0, 1) as tf.Tensor4D;
    });
    xa.dispose();
    xa = next;
  }
  // With 0 steps the start point may leave [0,1]; the reference clamps before the update.
  const out = tf.tidy(() => tf.clipByValue(xa, 0, 1) as tf.Tensor4D);
  xa.dispose();
  return out;
}

/** Options every classifier recipe accepts. */
export interface ClassifierRecipeOptions {
  attack: TrainAttackOptions;
}

/**
 * Base of the target recipes: one variable group 'main' (the classifier's trainable variables),
 * state = every named weight of the classifier (incl. BN running statistics). Subclasses provide
 * `loss(batch, seed)` returning the scalar to minimise and named scalar parts for the metrics.
 */
export abstract class ClassifierRecipe implements Recipe {
  abstract readonly name: string;

  constructor(readonly network: Classifier) {
    ensureGradients();
  }

  variableGroups(): Record<string, tf.Variable[]> {
    return { main: this.network.trainableVariables() };
  }

  stateTensors(): Map<string, tf.Variable> {
    return this.network.namedWeights();
  }

  /** Logits in eval mode (running BN statistics, nothing updated): what the inner attack sees. */
  protected evalLogits = (x: tf.Tensor4D): tf.Tensor2D => this.network.apply(x, false) as tf.Tensor2D;
  /** Logits in train mode (batch statistics; BN running statistics are updated as a side effect). */
  protected trainLogits = (x: tf.Tensor4D): tf.Tensor2D => this.network.apply(x, true) as tf.Tensor2D;

  /**
   * Inputs prepared outside the gradient tape (e.g. the adversarial batch); disposed by `step`.
   * Default: none.
   */
  protected prepare(_batch: Batch, _seed: number): tf.Tensor[] {
    return [];
  }

  /**
   * The objective, computed inside `tf.variableGrads`: return the total loss and any metric parts
   * (scalars; they are read back after the step).
   */
  protected abstract loss(batch: Batch, prepared: tf.Tensor[]): { total: tf.Scalar; parts: Record<string, tf.Scalar> };

  step(batch: Batch, optimizers: Record<string, tf.Optimizer>, seed: number): Record<string, number> {
    const opt = optimizers['main'];
    if (!opt) throw new Error(`recipe ${this.name}: no optimizer for variable group 'main'`);
    const prepared = this.prepare(batch, seed);
    try {
      let parts: Record<string, tf.Scalar> = {};
      const { value, grads } = tf.variableGrads(() => {
        const r = this.loss(batch, prepared);
        parts = Object.fromEntries(Object.entries(r.parts).map(([k, v]) => [k, tf.keep(v)]));
        return r.total;
      }, this.network.trainableVariables());
      opt.applyGradients(grads);
      const out: Record<string, number> = { loss: value.dataSync()[0]! };
      for (const [k, v] of Object.entries(parts)) out[k] = v.dataSync()[0]!;
      tf.dispose([value, ...Object.values(grads), ...Object.values(parts)]);
      return out;
    } finally {
      tf.dispose(prepared);
    }
  }
}
