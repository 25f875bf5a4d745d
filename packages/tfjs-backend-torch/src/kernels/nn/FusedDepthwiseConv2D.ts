/**
 * FusedDepthwiseConv2D: depthwise convolution + bias + activation in one native call (reached
 * outside a gradient tape only, like FusedConv2D).
 */
import { backend_util, FusedDepthwiseConv2D } from '@tensorflow/tfjs-core';
import type { FusedDepthwiseConv2DAttrs, FusedDepthwiseConv2DInputs, TensorInfo } from '@tensorflow/tfjs-core';
import type { TorchBackend } from '../../backend.js';
import { nativeKernel, run } from '../../kernel_util.js';
import { activationCode, maybeHandle, padList } from './native-args.js';

export function fusedDepthwiseConv2D(args: {
  inputs: FusedDepthwiseConv2DInputs; backend: TorchBackend; attrs: FusedDepthwiseConv2DAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  const x = inputs.x as TensorInfo;
  const filter = inputs.filter as TensorInfo;
  const { strides, pad, dilations, dimRoundingMode, activation, leakyreluAlpha } = attrs;
  const info = backend_util.computeConv2DInfo(x.shape as [number, number, number, number],
    filter.shape as [number, number, number, number], strides, dilations ?? [1, 1], pad, dimRoundingMode, true);
  return run(backend, 'nnConv2d', backend.handle(x), backend.handle(filter),
    maybeHandle(backend, inputs.bias as TensorInfo | undefined),
    maybeHandle(backend, inputs.preluActivationWeights as TensorInfo | undefined),
    [info.strideHeight, info.strideWidth], padList(info), [info.dilationHeight, info.dilationWidth],
    [info.outHeight, info.outWidth], true, true, activationCode(activation), leakyreluAlpha ?? 0.2);
}

export const fusedDepthwiseConv2DConfig = nativeKernel(FusedDepthwiseConv2D, fusedDepthwiseConv2D);
