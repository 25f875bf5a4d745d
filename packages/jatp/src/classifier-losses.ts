/**
 * Every loss the toolkit shares between attacks, target training and defenses, in one module that
 * sits below all three (it imports only tfjs-core): the per-example cross-entropy, the margin losses
 * attackers maximise (CW, DLR, targeted DLR; spec §5.1–5.3), the target-recipe terms (TRADES' KL,
 * MART's boosted CE and weighted KL, MMA-lite; spec §3.2, §3.3) and the one stop-gradient, `detach`.
 * Defense-only losses (JATP, APE-G, HGD, NRP) stay in defenses/purifier-losses.ts and import from here.
 *
 * Conventions: logits [N, K], labels [N] (any numeric dtype, cast to int32), per-example results [N]
 * (names ending in `PerExample`), the others scalars. None disposes its inputs; all are
 * differentiable. The numeric constants (1e-12, 1.0001, 1.0000001) are the reference
 * implementations' (spec §3.2 "Details"), kept so trained models match theirs.
 *
 * Usage:
 *   const ce = crossEntropyPerExample(logits, y);              // [N]
 *   const bce = boostedCrossEntropy(logitsAdv, y);             // scalar, MART / JATP Eq. 7
 *   const w = detach(tf.sub(1, pTrue));                        // a constant of the backward pass
 */
import * as tf from '@tensorflow/tfjs-core';

// ---------------------------------------------------------------------------------------------------
// Stop-gradient
// ---------------------------------------------------------------------------------------------------

/**
 * Stop-gradient: `f(x)` (default: x itself) as a constant of the backward pass, zero gradient to x
 * (tfjs has no stopGradient op). `f` runs inside the custom op, off the gradient tape, which is what
 * masks built from argmax / equality need: tfjs registers no gradient for Equal and friends, so taped
 * they would stop backprop with an error even when multiplied by zero.
 *
 *   detach(featuresNat)                                            // PyTorch's .detach()
 *   detach(logits, (z) => tf.cast(tf.equal(tf.argMax(z, 1), y), 'float32'))   // a constant mask
 */
export function detach<T extends tf.Tensor>(x: T): T;
export function detach<R extends tf.Tensor>(x: tf.Tensor, f: (x: tf.Tensor) => R): R;
export function detach(x: tf.Tensor, f: (x: tf.Tensor) => tf.Tensor = tf.clone): tf.Tensor {
  // customGrad's callback receives (...inputs, save); only the first input is used.
  const constant = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const input = args[0] as tf.Tensor;
    // Only the shape is kept: the input may be released by the time the backward pass runs (it is on
    // the torch backend, where zerosLike(input) then fails on a freed handle; MMA-lite crashed).
    const { shape, dtype } = input;
    return { value: f(input), gradFunc: () => tf.zeros(shape, dtype) };
  });
  return constant(x);
}

function oneHotOf(y: tf.Tensor1D, numClasses: number): tf.Tensor2D {
  return tf.oneHot(tf.cast(y, 'int32'), numClasses) as tf.Tensor2D;
}

// ---------------------------------------------------------------------------------------------------
// Cross-entropy and KL
// ---------------------------------------------------------------------------------------------------

/** Per-example cross-entropy -log softmax(z)_y, [N]. */
export function crossEntropyPerExample(logits: tf.Tensor2D, y: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const logp = tf.logSoftmax(logits);
    return tf.neg(tf.sum(tf.mul(logp, oneHotOf(y, logits.shape[1])), 1)) as tf.Tensor1D;
  });
}

/** Mean cross-entropy over the batch (PyTorch `F.cross_entropy`). */
export function crossEntropy(logits: tf.Tensor2D, y: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => tf.mean(crossEntropyPerExample(logits, y)) as tf.Scalar);
}

/**
 * Per-example KL(softmax(zNat) || softmax(zAdv)) = sum_k p_k (log p_k - log q_k), [N].
 * TRADES (spec §3.2): `KLDivLoss(log_softmax(f(x_adv)), softmax(f(x)))`; p is not detached.
 */
export function klPerExample(logitsNat: tf.Tensor2D, logitsAdv: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const logp = tf.logSoftmax(logitsNat);
    const logq = tf.logSoftmax(logitsAdv);
    return tf.sum(tf.mul(tf.exp(logp), tf.sub(logp, logq)), 1) as tf.Tensor1D;
  });
}

/** TRADES' robust term: (1/B) sum_i KL(p(x_i) || p(x_adv_i)) (sum over classes, divided by batch size). */
export function tradesKl(logitsNat: tf.Tensor2D, logitsAdv: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => tf.mean(klPerExample(logitsNat, logitsAdv)) as tf.Scalar);
}

// ---------------------------------------------------------------------------------------------------
// MART's boosted cross-entropy (also JATP's Eq. 7) and MART's weighted KL
// ---------------------------------------------------------------------------------------------------

/** MART's constants for the "strongest wrong class" term (spec §2.5, §3.2). */
export const BOOSTED_CE_OFFSET = 1.0001;
/** The 1e-12 inside MART's log (spec §3.2). */
export const BOOSTED_CE_TINY = 1e-12;

/**
 * Boosted cross-entropy (paper Eq. 7, from MART; spec §2.5, §3.2), per example:
 * `-log q[y] - log(1.0001 - q[k*] + 1e-12)`, q = softmax(logits), k* = argmax_{k != y} q[k].
 *
 * k* is ONE class (MART picks it with an argsort and gathers the NLL at it), so the second term's
 * gradient flows through q[k*] only. Taking `max_{k != y} q[k]` instead gives the same value, but
 * tfjs' max gradient goes to every tied maximum: with saturated probabilities (several wrong classes
 * at exactly the same value) it multiplies the gradient by the number of ties. The index is chosen
 * under `detach`, ties resolved to the lowest class as argMax does.
 */
export function boostedCrossEntropyPerExample(logits: tf.Tensor2D, y: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const numClasses = logits.shape[1];
    const onehot = oneHotOf(y, numClasses);
    const probs = tf.softmax(logits);
    // Probabilities lie in [0, 1]: moving the true class to -1 lets argMax pick the strongest wrong class.
    const strongestWrong = detach(probs, (p) => tf.oneHot(tf.argMax(tf.sub(tf.mul(p, tf.sub(1, onehot)), onehot), 1), numClasses));
    const pWrong = tf.sum(tf.mul(strongestWrong, probs), 1);
    const margin = tf.neg(tf.log(tf.add(tf.sub(BOOSTED_CE_OFFSET, pWrong), BOOSTED_CE_TINY)));
    return tf.add(crossEntropyPerExample(logits, y), margin) as tf.Tensor1D;
  });
}

/** Mean of `boostedCrossEntropyPerExample` over the batch (MART's `loss_adv`). */
export function boostedCrossEntropy(logits: tf.Tensor2D, y: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => tf.mean(boostedCrossEntropyPerExample(logits, y)) as tf.Scalar);
}

/**
 * MART's robust term (spec §3.2): (1/B) sum_i [ sum_k p_nat_ik (log p_nat_ik - log(p_adv_ik + 1e-12)) ]
 * x (1.0000001 - p_nat_i[y_i]); neither factor is detached (MART convention, spec A5).
 */
export function martWeightedKl(logitsNat: tf.Tensor2D, logitsAdv: tf.Tensor2D, y: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const logpNat = tf.logSoftmax(logitsNat);
    const pNat = tf.exp(logpNat);
    const pAdv = tf.softmax(logitsAdv);
    const kl = tf.sum(tf.mul(pNat, tf.sub(logpNat, tf.log(tf.add(pAdv, 1e-12)))), 1);
    const pTrue = tf.sum(tf.mul(oneHotOf(y, logitsNat.shape[1]), pNat), 1);
    return tf.mean(tf.mul(kl, tf.sub(1.0000001, pTrue))) as tf.Scalar;
  });
}

/**
 * MMA-lite (spec §3.3(a)): mean_i[(1 - c_i) CE(z_nat_i, y_i) + c_i CE(z_adv_i, y_i)], c_i = clean
 * prediction correct (a constant mask: no gradient flows through the argmax).
 */
export function mmaLiteLoss(logitsNat: tf.Tensor2D, logitsAdv: tf.Tensor2D, y: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const correct = detach(logitsNat, (z) => tf.cast(tf.equal(tf.argMax(z, 1), tf.cast(y, 'int32')), 'float32'));
    const ceNat = crossEntropyPerExample(logitsNat, y);
    const ceAdv = crossEntropyPerExample(logitsAdv, y);
    return tf.mean(tf.add(tf.mul(tf.sub(1, correct), ceNat), tf.mul(correct, ceAdv))) as tf.Scalar;
  });
}

/** Fraction of rows whose argmax equals y (a host number). */
export function accuracyOf(logits: tf.Tensor2D, y: tf.Tensor1D): number {
  return tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(logits, 1), tf.cast(y, 'int32')), 'float32')).dataSync()[0]!);
}

// ---------------------------------------------------------------------------------------------------
// Margin losses of the attacks (per example, to be MAXIMISED by an untargeted attacker)
// ---------------------------------------------------------------------------------------------------

/**
 * The k largest logits per example, sorted descending, as k tensors [N], differentiable in the logits
 * (like torch's sort values). tfjs registers no gradient for TopK, so this is a custom op whose backward
 * pass routes each value's gradient back to the logit it came from.
 */
function sortedLogits(logits: tf.Tensor2D, k: number): tf.Tensor1D[] {
  const numClasses = logits.shape[1];
  const topValues = tf.customGrad((...inputs: Array<tf.Tensor | ((save: tf.Tensor[]) => void)>) => {
    const z = inputs[0] as tf.Tensor2D;
    const save = inputs[1] as (save: tf.Tensor[]) => void;
    const { values, indices } = tf.topk(z, k);
    save([indices]);
    return {
      value: values as tf.Tensor,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        // [N,k,1] * [N,k,K] summed over k -> [N,K]
        tf.sum(tf.mul(tf.expandDims(dy, 2), tf.oneHot(saved[0] as tf.Tensor2D, numClasses)), 1),
    };
  });
  return tf.unstack(topValues(logits), 1) as tf.Tensor1D[];
}

/** z_y per example. */
function trueLogit(logits: tf.Tensor2D, y: tf.Tensor1D): tf.Tensor1D {
  return tf.sum(tf.mul(logits, oneHotOf(y, logits.shape[1])), 1) as tf.Tensor1D;
}

/** max_{i != y} z_i per example (the true class masked by a large negative offset). */
function maxOtherLogit(logits: tf.Tensor2D, y: tf.Tensor1D): tf.Tensor1D {
  // -1e9 rather than -inf: keeps the gradient finite (0 * inf = NaN) while never winning the max.
  return tf.max(tf.sub(logits, tf.mul(oneHotOf(y, logits.shape[1]), 1e9)), 1) as tf.Tensor1D;
}

/** Carlini–Wagner margin, untargeted: max_{i != y} z_i - z_y (positive iff misclassified). */
export function cwMarginPerExample(logits: tf.Tensor2D, y: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => tf.sub(maxOtherLogit(logits, y), trueLogit(logits, y)) as tf.Tensor1D);
}

/**
 * Difference of Logits Ratio, untargeted (spec §5.2, Croce & Hein 2020):
 * DLR = -(z_y - max_{i != y} z_i) / (z_pi1 - z_pi3 + 1e-12), z_pi sorted descending.
 * In [-1, 0] when y is the top logit, >= 0 when misclassified (spec §5c). Needs >= 3 classes.
 */
export function dlrPerExample(logits: tf.Tensor2D, y: tf.Tensor1D): tf.Tensor1D {
  if (logits.shape[1] < 3) throw new Error(`DLR loss needs at least 3 classes, got ${logits.shape[1]}`);
  return tf.tidy(() => {
    const [z1, , z3] = sortedLogits(logits, 3);
    const numerator = tf.sub(trueLogit(logits, y), maxOtherLogit(logits, y));
    return tf.div(tf.neg(numerator), tf.add(tf.sub(z1!, z3!), 1e-12)) as tf.Tensor1D;
  });
}

/**
 * Targeted DLR (spec §5.3, APGD-T): -(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4)/2 + 1e-12). Needs >= 4 classes.
 */
export function targetedDlrPerExample(logits: tf.Tensor2D, y: tf.Tensor1D, target: tf.Tensor1D): tf.Tensor1D {
  if (logits.shape[1] < 4) throw new Error(`targeted DLR loss needs at least 4 classes, got ${logits.shape[1]}`);
  return tf.tidy(() => {
    const [z1, , z3, z4] = sortedLogits(logits, 4);
    const numerator = tf.sub(trueLogit(logits, y), trueLogit(logits, target));
    const denominator = tf.add(tf.sub(z1!, tf.mul(tf.add(z3!, z4!), 0.5)), 1e-12);
    return tf.div(tf.neg(numerator), denominator) as tf.Tensor1D;
  });
}
