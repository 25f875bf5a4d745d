/**
 * TorchReluGrad (this backend only): dy where x > 0, else 0, as one `at::threshold_backward`
 * instead of tfjs's Step, Cast and Multiply (guide §5.6). Used by the Relu gradient override
 * in gradients.ts. Difference: tfjs's formula gives NaN where x is NaN, this gives dy.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { handle, nn, nnKernel, result, type TorchBackendLike } from './util.js';

export const TorchReluGrad = 'TorchReluGrad';

export function torchReluGrad(args: { inputs: { dy: TensorInfo; x: TensorInfo }; backend: TorchBackendLike }): TensorInfo {
  const { inputs, backend } = args;
  return result(backend, nn(backend).nnReluGrad(handle(backend, inputs.dy), handle(backend, inputs.x)));
}

export const torchReluGradConfig = nnKernel(TorchReluGrad, torchReluGrad);
