/**
 * Original MMA training (Ding et al., "MMA Training: Direct Input Space Margin Maximization through
 * Adversarial Training", ICLR 2020), spec §3.3(b) — the non-default reading of ambiguity A10
 * (the default, MMA-lite, is recipes/mma.ts).
 *
 * Per batch, with SLM(z, y) = logsumexp_{k != y} z_k - z_y (soft logit margin; < 0 = correct):
 *   1. clean loss Lclean = mean CE(f(x), y); correct_i = SLM(f(x_i), y_i) < 0
 *   2. for every example: e0_i = max(minEps, eps_i); PGD on SLM (10 steps of 2.5·e0_i/10, uniform
 *      random start, [0,1] clip) gives a direction u_i = (x'_i - x_i) / e0_i; a 10-step bisection
 *      in [0, 1.05·dMax] along u_i finds the smallest misclassifying distance e_i
 *   3. correct examples move to x_i + e_i·u_i and store eps_i = e_i; wrong ones keep x_i, eps_i = 0
 *   4. L_mma = (sum_{correct, e_i < dMax} CE(f(x_i + e_i u_i)) + sum_{wrong} CE(f(x_i))) / B
 *   5. gradient (1 - 1/3)·grad L_mma + (1/3)·grad Lclean, i.e. of (2/3) L_mma + (1/3) Lclean
 * eps_i persists across epochs as recipe state ('mma.margins', checkpointed), indexed by the
 * loop's `batch.indices`.
 *
 * Deviations, for a fixed-shape tfjs implementation: the attack and the bisection run on the whole
 * batch (wrong examples' results are discarded); `correct` comes from an eval-mode forward pass
 * before the attack (the reference's clean pass is in train mode), so batch-norm statistics are
 * updated only by the two train-mode passes inside the loss.
 *
 * Options (defaults): dMax = 32/255 (the MMA paper's CIFAR-10 "MMA-32"), minEps = 0.005,
 * attackSteps = 10, searchSteps = 10, cleanLossCoeff = 1/3, numExamples (required: size of the
 * training split the loop iterates).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../../models/types.js';
import type { Batch } from '../../training/types.js';
import { ClassifierRecipe } from './classifier-recipe.js';
import { crossEntropyPerExample } from '../../classifier-losses.js';

/** Options of the original MMA recipe (defaults: MMA_ORIGINAL_DEFAULTS, spec §3.3(b)). */
export interface MmaOriginalOptions {
  dMax: number;
  minEps: number;
  attackSteps: number;
  searchSteps: number;
  cleanLossCoeff: number;
  numExamples: number;
}

/** Defaults of the original MMA (spec §3.3(b)). */
export const MMA_ORIGINAL_DEFAULTS = { dMax: 32 / 255, minEps: 0.005, attackSteps: 10, searchSteps: 10, cleanLossCoeff: 1 / 3 } as const;

/** Soft logit margin per example: logsumexp over wrong classes minus the true logit. */
export function softLogitMargin(logits: tf.Tensor2D, y: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const onehot = tf.oneHot(tf.cast(y, 'int32'), logits.shape[1]);
    const zTrue = tf.sum(tf.mul(onehot, logits), 1);
    // Push the true class far below the others so it drops out of the logsumexp.
    const wrong = tf.sub(logits, tf.mul(onehot, 1e9));
    return tf.sub(tf.logSumExp(wrong, 1), zTrue) as tf.Tensor1D;
  });
}

/** The original MMA training (per-example margins, spec §3.3(b)) as a recipe for `runTraining`. */
export class MmaOriginalRecipe extends ClassifierRecipe {
  readonly name = 'mma-original';
  readonly options: MmaOriginalOptions;
  /** Per-training-example margin estimate eps_i (spec §3.3(b) "state"). */
  readonly margins: tf.Variable;

  constructor(network: Classifier, options: Partial<MmaOriginalOptions> & { numExamples: number }) {
    super(network);
    this.options = { ...MMA_ORIGINAL_DEFAULTS, ...options };
    const o = this.options;
    if (!Number.isInteger(o.numExamples) || o.numExamples < 1) throw new Error(`mma-original recipe: numExamples must be a positive integer, got ${o.numExamples}`);
    if (!(o.dMax > 0) || !(o.minEps > 0)) throw new Error(`mma-original recipe: dMax and minEps must be > 0, got ${o.dMax}, ${o.minEps}`);
    if (!(o.cleanLossCoeff >= 0 && o.cleanLossCoeff <= 1)) throw new Error(`mma-original recipe: cleanLossCoeff must be in [0,1], got ${o.cleanLossCoeff}`);
    this.margins = tf.variable(tf.fill([o.numExamples], o.minEps), false);
  }

  override stateTensors(): Map<string, tf.Variable> {
    const m = new Map(super.stateTensors());
    m.set('mma.margins', this.margins);
    return m;
  }

  /** Host-side margin search; returns [x_mixed, weights] where weights_i = 1 for examples in L_mma. */
  protected override prepare(batch: Batch, seed: number): tf.Tensor[] {
    const o = this.options;
    if (!batch.indices) throw new Error('mma-original recipe: batch.indices missing (run it through training/loop.ts)');
    const { x, y } = batch;
    const n = x.shape[0];
    const all = this.margins.dataSync();
    const e0 = Float32Array.from(batch.indices, (i) => Math.max(o.minEps, all[i]!));
    const correct = tf.tidy(() => tf.less(softLogitMargin(this.evalLogits(x), y), 0).dataSync());
    const maxEps = 1.05 * o.dMax;

    const perImage = (v: Float32Array): tf.Tensor4D => tf.tensor4d(v, [n, 1, 1, 1]);
    const eps0 = perImage(e0);
    // PGD maximising SLM inside each example's own ball (radius e0_i, step 2.5·e0_i/steps).
    let xa = tf.tidy(() => tf.clipByValue(tf.add(x, tf.mul(tf.randomUniform(x.shape, -1, 1, 'float32', seed), eps0)), 0, 1)) as tf.Tensor4D;
    const gradOf = tf.grad((xi: tf.Tensor) => tf.sum(softLogitMargin(this.evalLogits(xi as tf.Tensor4D), y)));
    for (let k = 0; k < o.attackSteps; k++) {
      const next = tf.tidy(() => {
        const stepped = tf.add(xa, tf.mul(tf.sign(gradOf(xa)), tf.mul(eps0, 2.5 / o.attackSteps)));
        const inBall = tf.minimum(tf.maximum(stepped, tf.sub(x, eps0)), tf.add(x, eps0));
        return tf.clipByValue(inBall, 0, 1) as tf.Tensor4D;
      });
      xa.dispose();
      xa = next;
    }
    const u = tf.tidy(() => tf.div(tf.sub(xa, x), tf.add(eps0, 1e-12))) as tf.Tensor4D;
    tf.dispose([xa, eps0]);

    // Bisection on the distance along u (spec §3.3(b) bookkeeping), all on the host except f.
    const marginAt = (e: Float32Array): Float32Array =>
      tf.tidy(() => softLogitMargin(this.evalLogits(tf.clipByValue(tf.add(x, tf.mul(u, perImage(e))), 0, 1) as tf.Tensor4D), y).dataSync() as Float32Array);
    const lo = new Float32Array(n);
    const hi = new Float32Array(n).fill(maxEps);
    const e = Float32Array.from(e0);
    let m = marginAt(e);
    for (let s = 0; s < o.searchSteps; s++) {
      for (let i = 0; i < n; i++) {
        if (m[i]! < 0) lo[i] = Math.max(lo[i]!, e[i]!);
        else hi[i] = Math.min(hi[i]!, e[i]!);
        e[i] = (lo[i]! + hi[i]!) / 2;
      }
      m = marginAt(e);
    }

    const eUse = new Float32Array(n);
    const weights = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      if (correct[i]) {
        eUse[i] = e[i]!;
        weights[i] = e[i]! < o.dMax ? 1 : 0; // hinge: margins already beyond dMax add no loss
      } else {
        weights[i] = 1;
      }
    }
    // Store the new margins: e_i for correct examples, 0 for wrong ones (a copy: dataSync may
    // return the backend's own buffer).
    const updated = Float32Array.from(all);
    batch.indices.forEach((idx, i) => {
      updated[idx] = correct[i] ? e[i]! : 0;
    });
    tf.tidy(() => this.margins.assign(tf.tensor1d(updated)));
    const xMixed = tf.tidy(() => tf.clipByValue(tf.add(x, tf.mul(u, perImage(eUse))), 0, 1));
    u.dispose();
    return [xMixed, tf.tensor1d(weights)];
  }

  protected loss(batch: Batch, [xMixed, weights]: tf.Tensor[]): { total: tf.Scalar; parts: Record<string, tf.Scalar> } {
    const c = this.options.cleanLossCoeff;
    const lossClean = tf.mean(crossEntropyPerExample(this.trainLogits(batch.x), batch.y)) as tf.Scalar;
    const n = batch.x.shape[0];
    const lossMma = tf.div(tf.sum(tf.mul(crossEntropyPerExample(this.trainLogits(xMixed as tf.Tensor4D), batch.y), weights!)), n) as tf.Scalar;
    return { total: tf.add(tf.mul(lossMma, 1 - c), tf.mul(lossClean, c)) as tf.Scalar, parts: { lossClean, lossMma } };
  }
}
