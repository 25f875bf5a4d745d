/**
 * TorchReluGrad (this backend only): dy where x > 0, else 0, as one `at::threshold_backward`
 * instead of tfjs's Step, Cast and Multiply (guide §5.6). Used by the Relu gradient override
 * in gradients.ts. Difference: tfjs's formula gives NaN where x is NaN, this gives dy.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { TorchBackend } from '../../backend.js';
import { nativeKernel, run } from '../../kernel_util.js';

export const TorchReluGrad = 'TorchReluGrad';

export function torchReluGrad(args: { inputs: { dy: TensorInfo; x: TensorInfo }; backend: TorchBackend }): TensorInfo {
  const { inputs, backend } = args;
  return run(backend, 'nnReluGrad', backend.handle(inputs.dy), backend.handle(inputs.x));
}

export const torchReluGradConfig = nativeKernel(TorchReluGrad, torchReluGrad);
