/** What bench/attacks.ts needs from each model it attacks (the small CNN, the full model). */
import type * as tf from '@tensorflow/tfjs-core';

import type { LogitsFn } from '../src/models/types.js';

export interface BenchModel {
  /** Short name for the output and the JSON keys ('cnn', 'full'). */
  readonly key: string;
  /** One line describing the network, its weights and its data. */
  readonly description: string;
  /** The attacked function (inference mode, differentiable in x). */
  readonly logits: LogitsFn;
  /** The attacked images (NHWC in [0, 1]) and their labels. */
  readonly x: tf.Tensor4D;
  readonly y: tf.Tensor1D;
  /** Where the images come from ('Fashion-MNIST', 'JPEG-derived CIFAR-10 test', 'synthetic'). */
  readonly data: string;
  readonly eps: number;
  /**
   * Writes what attacks_reference.py rebuilds the model from into `dir`: meta.json (with `model`
   * and `eps`), inputs.safetensors (x NHWC float32, y int32) and the weights as safetensors.
   */
  writeForReference(dir: string): Promise<void>;
  /** The tensors the port check compares with PyTorch's, flattened: logits, plus P(x) for the full model. */
  probe(): Record<string, Float32Array>;
  dispose(): void;
}
