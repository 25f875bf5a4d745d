/**
 * TorchLeakyReluGrad (this backend only): dy where x > 0, else alpha * dy, as one
 * `at::leaky_relu_backward` instead of tfjs's Greater, Multiply and Select. Used by the LeakyRelu
 * gradient override in gradients.ts. Same values as tfjs's formula (x = 0 takes alpha * dy in both).
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { TorchBackend } from '../../backend.js';
import { nativeKernel, run } from '../../kernel_util.js';

export const TorchLeakyReluGrad = 'TorchLeakyReluGrad';

export function torchLeakyReluGrad(args: { inputs: { dy: TensorInfo; x: TensorInfo }; backend: TorchBackend; attrs: { alpha: number } }): TensorInfo {
  const { inputs, backend, attrs } = args;
  return run(backend, 'nnLeakyReluGrad', backend.handle(inputs.dy), backend.handle(inputs.x), attrs.alpha);
}

export const torchLeakyReluGradConfig = nativeKernel(TorchLeakyReluGrad, torchLeakyReluGrad);
