/**
 * Fused training and attack steps: one kernel call where tfjs composes many small ones (issue
 * "speed"). On `torch` each function below is one native call (src/kernels/nn/Torch*.ts,
 * native/ops_fused.cc); elsewhere `batchNormTraining` and `linfStep` compose the same math from
 * tfjs ops, and the optimizer steps are unavailable (`fusedOpsAvailable()` says which).
 * Also the package's `tfjs-backend-torch/fused` entry: importing it has no side effects (no addon
 * load, no backend registration), so code that must also run without the engine can use it.
 */
import * as tf from '@tensorflow/tfjs-core';

import { TorchAdamUpdate, TorchApgdLinfStep, TorchApgdTrack, TorchBatchNormTrain, TorchLinfBoxProjection, TorchLinfStep, TorchSgdMomentumUpdate, TorchSquareAccept } from './fused_names.js';

/** Whether the active backend runs the fused kernels natively. */
export function fusedOpsAvailable(): boolean {
  return tf.getBackend() === 'torch' && tf.getKernel(TorchBatchNormTrain, 'torch') !== undefined;
}

export interface BatchNormTrainingParams {
  scale?: tf.Tensor1D;
  offset?: tf.Tensor1D;
  /** Running statistics to update (both or neither). */
  runningMean?: tf.Tensor1D;
  runningVariance?: tf.Tensor1D;
  /** PyTorch's convention: r <- (1 - momentum) r + momentum * batch statistic. */
  momentum: number;
  epsilon: number;
  /**
   * Also return the batch mean and biased batch variance (new tensors, no gradient flows back
   * through them), for callers that keep running statistics their own way (tfjs-layers' momentum).
   */
  withBatchStatistics?: boolean;
}

export interface BatchNormTrainingResult {
  y: tf.Tensor;
  /** Updated running statistics (new tensors: assign them to the variables); absent when not given. */
  runningMean?: tf.Tensor1D;
  runningVariance?: tf.Tensor1D;
  /** With `withBatchStatistics`: the batch mean and biased batch variance per channel. */
  batchMean?: tf.Tensor1D;
  batchVariance?: tf.Tensor1D;
}

/**
 * Training-mode batch norm over every axis but the last, as PyTorch's BatchNorm in training mode:
 * normalised with the batch mean and biased variance, gradients through them too; the running
 * variance is updated with the unbiased one.
 */
export function batchNormTraining(x: tf.Tensor, p: BatchNormTrainingParams): BatchNormTrainingResult {
  if ((p.runningMean === undefined) !== (p.runningVariance === undefined)) {
    throw new Error('batchNormTraining: give both runningMean and runningVariance, or neither');
  }
  if (fusedOpsAvailable()) {
    // The kernel's gradient saves its 'scale' input, and a gradient tape cannot save an absent
    // one: without a scale, pass ones (the same normalisation) so the call stays differentiable.
    const ones = p.scale ? undefined : tf.ones([x.shape[x.rank - 1]!]);
    const inputs: tf.NamedTensorMap = { x, scale: p.scale ?? ones! };
    if (p.offset) inputs.offset = p.offset;
    if (p.runningMean && p.runningVariance) { inputs.runningMean = p.runningMean; inputs.runningVariance = p.runningVariance; }
    const outs = tf.engine().runKernel(TorchBatchNormTrain, inputs,
      { momentum: p.momentum, varianceEpsilon: p.epsilon } as unknown as tf.NamedAttrMap) as tf.Tensor[];
    ones?.dispose();
    // The batch statistics (outputs 1, 2) are saved for the gradient; the caller sees them only
    // on request, the variance recovered from the kernel's 1 / sqrt(var + eps).
    const [y, mean, invStd] = outs as [tf.Tensor, tf.Tensor1D, tf.Tensor1D];
    const batch = p.withBatchStatistics
      ? { batchMean: mean, batchVariance: tf.tidy(() => tf.sub(tf.reciprocal(tf.square(invStd)), p.epsilon) as tf.Tensor1D) }
      : {};
    tf.dispose(p.withBatchStatistics ? [invStd] : [mean, invStd]);
    return { y, runningMean: outs[3] as tf.Tensor1D | undefined, runningVariance: outs[4] as tf.Tensor1D | undefined, ...batch };
  }
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const { mean, variance } = tf.moments(x, axes);
  const y = tf.batchNorm(x, mean, variance, p.offset, p.scale, p.epsilon);
  const batch = p.withBatchStatistics ? { batchMean: mean as tf.Tensor1D, batchVariance: variance as tf.Tensor1D } : {};
  const disposeUnreturned = () => { if (!p.withBatchStatistics) tf.dispose([mean, variance]); };
  if (!p.runningMean || !p.runningVariance) { disposeUnreturned(); return { y, ...batch }; }
  const n = x.size / x.shape[x.rank - 1]!;
  const m = p.momentum;
  const [runningMean, runningVariance] = tf.tidy(() => [
    tf.add(tf.mul(p.runningMean!, 1 - m), tf.mul(mean, m)) as tf.Tensor1D,
    tf.add(tf.mul(p.runningVariance!, 1 - m), tf.mul(variance, (m * n) / Math.max(1, n - 1))) as tf.Tensor1D,
  ]);
  disposeUnreturned();
  return { y, runningMean, runningVariance, ...batch };
}

function requireFused(what: string): void {
  if (!fusedOpsAvailable()) throw new Error(`${what}: needs the 'torch' backend (active: '${tf.getBackend()}')`);
}

function checkGroup(what: string, params: readonly tf.Variable[], ...others: ReadonlyArray<readonly tf.Tensor[]>): void {
  for (const o of others) {
    if (o.length !== params.length) throw new Error(`${what}: ${params.length} parameters but ${o.length} slot/gradient tensors`);
  }
}

/** Assigns outs[k * n + i] to groups[k][i]; the new tensors are disposed (the variables keep them). */
function assignAll(groups: ReadonlyArray<readonly tf.Variable[]>, outs: tf.Tensor[]): void {
  const n = groups[0]!.length;
  groups.forEach((g, k) => g.forEach((v, i) => v.assign(outs[k * n + i]!)));
  tf.dispose(outs);
}

/** One torch.optim.SGD step (momentum, L2 weight decay, no dampening/Nesterov) over a whole group. */
export function sgdMomentumStep(params: readonly tf.Variable[], velocities: readonly tf.Variable[], grads: readonly tf.Tensor[],
  o: { lr: number; momentum: number; weightDecay: number }): void {
  requireFused('sgdMomentumStep');
  checkGroup('sgdMomentumStep', params, velocities, grads);
  if (params.length === 0) return;
  const inputs: tf.NamedTensorMap = {};
  params.forEach((p, i) => { inputs[`p${i}`] = p; inputs[`v${i}`] = velocities[i]!; inputs[`g${i}`] = grads[i]!; });
  const outs = tf.engine().runKernel(TorchSgdMomentumUpdate, inputs,
    { count: params.length, ...o } as unknown as tf.NamedAttrMap) as tf.Tensor[];
  assignAll([params, velocities], outs);
}

/** One torch.optim.Adam step (L2 weight decay, bias correction for step `step` >= 1) over a whole group. */
export function adamStep(params: readonly tf.Variable[], m: readonly tf.Variable[], v: readonly tf.Variable[], grads: readonly tf.Tensor[],
  o: { lr: number; beta1: number; beta2: number; epsilon: number; weightDecay: number; step: number }): void {
  requireFused('adamStep');
  checkGroup('adamStep', params, m, v, grads);
  if (params.length === 0) return;
  const inputs: tf.NamedTensorMap = {};
  params.forEach((p, i) => { inputs[`p${i}`] = p; inputs[`m${i}`] = m[i]!; inputs[`v${i}`] = v[i]!; inputs[`g${i}`] = grads[i]!; });
  const outs = tf.engine().runKernel(TorchAdamUpdate, inputs,
    { count: params.length, ...o } as unknown as tf.NamedAttrMap) as tf.Tensor[];
  assignAll([params, m, v], outs);
}

/**
 * The L-infinity attack update clamp(clamp(x + stepSize * sign(grad), x0 - eps, x0 + eps), lo, hi)
 * (sign(NaN) = 0, as tfjs's sign). One kernel on torch.
 */
export function linfStep<T extends tf.Tensor>(x: T, grad: tf.Tensor, x0: tf.Tensor, stepSize: number, epsilon: number,
  lo = 0, hi = 1): T {
  if (fusedOpsAvailable()) {
    return tf.engine().runKernel(TorchLinfStep, { x, grad, x0 },
      { stepSize, epsilon, lo, hi } as unknown as tf.NamedAttrMap) as T;
  }
  return tf.tidy(() => {
    const stepped = tf.add(x, tf.mul(tf.sign(grad), stepSize));
    const projected = tf.minimum(tf.maximum(stepped, tf.sub(x0, epsilon)), tf.add(x0, epsilon));
    return tf.clipByValue(projected, lo, hi) as T;
  });
}

/**
 * APGD's L-infinity update (Croce & Hein 2020): z = P(xCur + stepSize * sign(grad)), then
 * P(xCur + a (z - xCur) + (1 - a)(xCur - xPrev)), where P projects onto the eps-ball around x0 and
 * [lo, hi] and `stepSize` broadcasts per example ([N, 1, 1, 1]). One kernel on torch.
 */
export function apgdLinfStep<T extends tf.Tensor>(xCur: T, xPrev: tf.Tensor, grad: tf.Tensor, x0: tf.Tensor, stepSize: tf.Tensor,
  a: number, epsilon: number, lo = 0, hi = 1): T {
  if (fusedOpsAvailable()) {
    return tf.engine().runKernel(TorchApgdLinfStep, { xCur, xPrev, grad, x0, stepSize },
      { a, epsilon, lo, hi } as unknown as tf.NamedAttrMap) as T;
  }
  return tf.tidy(() => {
    const project = (v: tf.Tensor) => tf.clipByValue(tf.minimum(tf.maximum(v, tf.sub(x0, epsilon)), tf.add(x0, epsilon)), lo, hi);
    const z = project(tf.add(xCur, tf.mul(stepSize, tf.sign(grad))));
    return project(tf.add(tf.add(xCur, tf.mul(tf.sub(z, xCur), a)), tf.mul(tf.sub(xCur, xPrev), 1 - a))) as T;
  });
}

/** APGD's tracked state between iterations (see apgdTrack). */
export interface ApgdTracked<X extends tf.Tensor> {
  /** Last misclassified iterate per example (else what it was). */
  xBestAdv: X;
  /** bool [N]: correctly classified at every iterate so far. */
  robust: tf.Tensor1D;
  /** float [N]: iterations whose loss rose, since the last checkpoint. */
  increases: tf.Tensor1D;
  /** Highest-loss iterate, its gradient and its loss. */
  xBest: X;
  gradBest: X;
  lossBest: tf.Tensor1D;
}

/**
 * APGD's bookkeeping after the loss, logits and gradient at the iterate xCur (Croce & Hein 2020):
 * correct = argMax(logits) == y; xBestAdv <- xCur where not correct; robust <- robust && correct;
 * increases += (loss > lossPrev); where loss > lossBest: xBest <- xCur, gradBest <- grad,
 * lossBest <- loss. Returns new tensors (the inputs are not disposed). One kernel on torch; the
 * same selections from tfjs ops elsewhere, so the floats are the same on every backend.
 */
export function apgdTrack<X extends tf.Tensor>(xCur: X, grad: X, loss: tf.Tensor1D, lossPrev: tf.Tensor1D, logits: tf.Tensor2D,
  y: tf.Tensor1D, s: ApgdTracked<X>): ApgdTracked<X> {
  if (fusedOpsAvailable()) {
    const [xBestAdv, robust, increases, xBest, gradBest, lossBest] = tf.engine().runKernel(TorchApgdTrack,
      { xCur, grad, loss, lossPrev, logits, y, xBestAdv: s.xBestAdv, robust: s.robust, increases: s.increases, xBest: s.xBest,
        gradBest: s.gradBest, lossBest: s.lossBest }, {}) as tf.Tensor[];
    return { xBestAdv: xBestAdv as X, robust: robust as tf.Tensor1D, increases: increases as tf.Tensor1D, xBest: xBest as X,
      gradBest: gradBest as X, lossBest: lossBest as tf.Tensor1D };
  }
  return tf.tidy(() => {
    const rows = (m: tf.Tensor1D) => tf.broadcastTo(tf.reshape(m, [m.shape[0], ...Array(xCur.rank - 1).fill(1)]), xCur.shape);
    const correct = tf.equal(tf.argMax(logits, 1), tf.cast(y, 'int32')) as tf.Tensor1D;
    const improved = tf.greater(loss, s.lossBest) as tf.Tensor1D;
    return {
      xBestAdv: tf.where(rows(tf.logicalNot(correct) as tf.Tensor1D), xCur, s.xBestAdv) as X,
      robust: tf.logicalAnd(s.robust, correct) as tf.Tensor1D,
      increases: tf.add(s.increases, tf.cast(tf.greater(loss, lossPrev), 'float32')) as tf.Tensor1D,
      xBest: tf.where(rows(improved), xCur, s.xBest) as X,
      gradBest: tf.where(rows(improved), grad, s.gradBest) as X,
      lossBest: tf.where(improved, loss, s.lossBest) as tf.Tensor1D,
    };
  });
}

/**
 * Square's accept step from the logits at the proposals: margin' = z_y - max_{k != y} z_k (the
 * true class masked by -1e9, as the toolkit's CW margin), accept = margin' < margin or margin' <= 0,
 * then best and margin take the proposal's values where accepted. Returns [best', margin'] (new
 * tensors). One kernel on torch, the same floats from tfjs ops elsewhere.
 */
export function squareAccept<X extends tf.Tensor>(logits: tf.Tensor2D, y: tf.Tensor1D, proposal: X, best: X, margin: tf.Tensor1D): [X, tf.Tensor1D] {
  if (fusedOpsAvailable()) {
    return tf.engine().runKernel(TorchSquareAccept, { logits, y, proposal, best, margin }, {}) as [X, tf.Tensor1D];
  }
  return tf.tidy(() => {
    const oneHot = tf.oneHot(tf.cast(y, 'int32'), logits.shape[1]);
    const trueLogit = tf.sum(tf.mul(logits, oneHot), 1);
    const maxOther = tf.max(tf.sub(logits, tf.mul(oneHot, 1e9)), 1);
    const newMargin = tf.neg(tf.sub(maxOther, trueLogit)) as tf.Tensor1D;
    const accept = tf.logicalOr(tf.less(newMargin, margin), tf.lessEqual(newMargin, 0)) as tf.Tensor1D;
    const rows = tf.reshape(accept, [accept.shape[0], ...Array(best.rank - 1).fill(1)]);
    return [tf.where(rows, proposal, best) as X, tf.where(accept, newMargin, margin) as tf.Tensor1D];
  });
}

/**
 * FAB's inner step: per row the smallest L-inf change d with <w, x + d> = b and 0 <= x + d <= 1 (every
 * coordinate at its box limit when the hyperplane is out of reach). One native call on `torch`, which
 * finds the crossing by weighted selection instead of sorting each row (native/ops_projection.cc);
 * unavailable elsewhere (`fusedOpsAvailable()`), where the caller composes it from tfjs ops.
 */
export function linfBoxProjection(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D): tf.Tensor2D {
  if (!fusedOpsAvailable()) throw new Error("linfBoxProjection: needs the 'torch' backend (see fusedOpsAvailable())");
  return tf.engine().runKernel(TorchLinfBoxProjection, { x, w, b }, {}) as tf.Tensor2D;
}
