/**
 * BPDA — Backward Pass Differentiable Approximation (Athalye, Carlini & Wagner, "Obfuscated Gradients
 * Give a False Sense of Security", ICML 2018), with the identity as the pre-processor's approximation
 * (spec §5.6).
 *
 * Not an attack by itself: `bpdaModel(T, P)` is a LogitsFn whose forward pass is the real full model
 * T(clip01(P(x))) and whose backward pass treats clip01 ∘ P as the identity, i.e.
 * grad_x L ≈ grad_u L(T(u)) at u = clip01(P(x)). Any gradient attack run on it is "attack + BPDA";
 * the paper's BPDA row is PGD-40 (spec §5.1 settings) on this model.
 *
 * Shapes: x [N,H,W,C] in [0,1]; P maps images to images of the same shape; T maps images to logits [N,K].
 *
 * Usage:
 *   const model = bpdaModel((u) => target.apply(u, false) as tf.Tensor2D, (x) => purifier.apply(x, false) as tf.Tensor4D);
 *   const { xAdv, success } = pgd().run(model, x, y);
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LogitsFn } from '../models/types.js';
import { clip01 } from './ball-and-losses.js';

/** x -> clip01(P(x)) whose gradient is the identity (straight-through). */
export function identityBackward(preprocess: (x: tf.Tensor4D) => tf.Tensor4D): (x: tf.Tensor4D) => tf.Tensor4D {
  // tf.customGrad does not record the ops of the forward function on the tape, so P's own
  // (possibly zero or undefined, e.g. rounding) gradient is never used.
  const op = tf.customGrad((...inputs: Array<tf.Tensor | ((save: tf.Tensor[]) => void)>) => ({
    value: clip01(preprocess(inputs[0] as tf.Tensor4D)) as tf.Tensor,
    gradFunc: (dy: tf.Tensor) => [dy],
  }));
  return (x: tf.Tensor4D) => op(x) as tf.Tensor4D;
}

/** The BPDA view of the full model T ∘ clip01 ∘ P: exact forward, identity backward through P. */
export function bpdaModel(classifier: LogitsFn, preprocess: (x: tf.Tensor4D) => tf.Tensor4D): LogitsFn {
  const passThrough = identityBackward(preprocess);
  return (x: tf.Tensor4D) => tf.tidy(() => classifier(passThrough(x)));
}
