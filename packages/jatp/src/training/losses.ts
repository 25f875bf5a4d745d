/**
 * Loss terms of the target-model recipes (spec §3.2, §3.3), each as a differentiable tfjs function
 * of logits. Names follow the papers; the numeric constants (1e-12, 1.0001, 1.0000001) are the
 * reference implementations' (spec §3.2 "Details"), kept so trained models match theirs.
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * `f(z)` as a constant of the backward pass (gradient zero w.r.t. z). For masks built from argmax /
 * equality, whose ops have no registered gradient in tfjs and must not block backprop.
 */
function constantOf(z: tf.Tensor2D, f: (z: tf.Tensor2D) => tf.Tensor): tf.Tensor {
  // customGrad's callback receives tensors and a save function in one rest list; we take the tensor.
  const op = tf.customGrad((...args) => {
    const t = args[0] as tf.Tensor2D;
    // Only the shape is kept: z may be disposed by the time the backward pass runs (it is on the
    // torch backend, where zerosLike(t) then fails on a released handle).
    const shape = t.shape;
    return { value: f(t), gradFunc: () => tf.zeros(shape) };
  });
  return op(z);
}

/** Per-example cross-entropy -log softmax(z)_y, [N]. */
export function crossEntropyPerExample(logits: tf.Tensor2D, y: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const logp = tf.logSoftmax(logits);
    const onehot = tf.oneHot(tf.cast(y, 'int32'), logits.shape[1]);
    return tf.neg(tf.sum(tf.mul(onehot, logp), 1)) as tf.Tensor1D;
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

/**
 * MART's boosted cross-entropy (spec §3.2): CE(z_adv, y) + mean_i[-log(1.0001 - p_adv_i[k*_i] + 1e-12)],
 * k*_i = the most probable wrong class under the adversarial example.
 */
export function boostedCrossEntropy(logitsAdv: tf.Tensor2D, y: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const numClasses = logitsAdv.shape[1];
    const pAdv = tf.softmax(logitsAdv);
    const onehot = tf.oneHot(tf.cast(y, 'int32'), numClasses);
    // Exclude the true class by pushing it below every logit; argmax of logits = argmax of softmax.
    const kStarOneHot = constantOf(logitsAdv, (z) =>
      tf.oneHot(tf.argMax(tf.sub(z, tf.mul(onehot, tf.add(tf.sub(tf.max(z), tf.min(z)), 1))), 1), numClasses),
    );
    const pWrong = tf.sum(tf.mul(kStarOneHot, pAdv), 1);
    const margin = tf.neg(tf.log(tf.add(tf.sub(1.0001, pWrong), 1e-12)));
    return tf.add(crossEntropy(logitsAdv, y), tf.mean(margin)) as tf.Scalar;
  });
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
    const onehot = tf.oneHot(tf.cast(y, 'int32'), logitsNat.shape[1]);
    const pTrue = tf.sum(tf.mul(onehot, pNat), 1);
    return tf.mean(tf.mul(kl, tf.sub(1.0000001, pTrue))) as tf.Scalar;
  });
}

/**
 * MMA-lite (spec §3.3(a)): mean_i[(1 - c_i) CE(z_nat_i, y_i) + c_i CE(z_adv_i, y_i)], c_i = clean
 * prediction correct (a constant mask: no gradient flows through the argmax).
 */
export function mmaLiteLoss(logitsNat: tf.Tensor2D, logitsAdv: tf.Tensor2D, y: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const correct = constantOf(logitsNat, (z) => tf.cast(tf.equal(tf.argMax(z, 1), tf.cast(y, 'int32')), 'float32'));
    const ceNat = crossEntropyPerExample(logitsNat, y);
    const ceAdv = crossEntropyPerExample(logitsAdv, y);
    return tf.mean(tf.add(tf.mul(tf.sub(1, correct), ceNat), tf.mul(correct, ceAdv))) as tf.Scalar;
  });
}

/** Fraction of rows whose argmax equals y (a host number). */
export function accuracyOf(logits: tf.Tensor2D, y: tf.Tensor1D): number {
  return tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(logits, 1), tf.cast(y, 'int32')), 'float32')).dataSync()[0]!);
}
