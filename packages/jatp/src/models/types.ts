import type * as tf from '@tensorflow/tfjs-core';

/**
 * A network mapping NHWC images in [0, 1] to logits (classifier) or to images (pre-processor).
 * `training` selects batch-norm batch statistics (and updates running statistics) vs running stats;
 * it is always explicit, never inferred.
 */
export interface Network {
  /** Registry name, e.g. 'resnet18', 'jatp-purifier', 'hgd'. */
  readonly arch: string;
  /** Options it was built with (width multiplier, input channels, classes, ...), for the weight file's JSON. */
  readonly options: Readonly<Record<string, unknown>>;
  /** Forward pass. Differentiable w.r.t. the input and the trainable variables. */
  apply(x: tf.Tensor4D, training: boolean): tf.Tensor;
  /**
   * Forward pass that also returns named internal tensors (e.g. 'layer3' of ResNet-18, spec §2.3).
   * `output` is what `apply` returns.
   */
  applyWithFeatures(x: tf.Tensor4D, featureNames: readonly string[], training: boolean): {
    output: tf.Tensor;
    features: Record<string, tf.Tensor>;
  };
  /** Names that `applyWithFeatures` accepts. */
  readonly featureNames: readonly string[];
  /** The feature JATP attacks by default (ResNet-18: 'layer3', spec §2.3 A1); absent when none applies. */
  readonly defaultFeature?: string;
  /** Variables updated by an optimizer. */
  trainableVariables(): tf.Variable[];
  /** Every persistent tensor (trainable + batch-norm running statistics), by stable name. */
  namedWeights(): Map<string, tf.Variable>;
  countParams(): number;
  dispose(): void;
}

/** A classifier returns logits [N, numClasses]. */
export interface Classifier extends Network {
  readonly numClasses: number;
}

/** A pre-processor returns an image batch of the input's shape (not clamped: callers decide, spec A4). */
export type Preprocessor = Network;

/** x -> logits, differentiable in x. What every attack consumes. */
export type LogitsFn = (x: tf.Tensor4D) => tf.Tensor2D;
