/**
 * FusedConv2D: convolution + bias + activation (linear, relu, relu6, elu, sigmoid, leakyrelu,
 * prelu) in one native call. tfjs dispatches it only outside a gradient tape, or with a linear
 * activation (ops/fused_util shouldFuse), e.g. in tfjs-layers predict/evaluate.
 */
import { backend_util, FusedConv2D } from '@tensorflow/tfjs-core';
import type { FusedConv2DAttrs, FusedConv2DInputs, TensorInfo } from '@tensorflow/tfjs-core';
import type { TorchBackend } from '../../backend.js';
import { nativeKernel, run } from '../../kernel_util.js';
import { activationCode, maybeHandle, padList } from './native-args.js';

export function fusedConv2D(args: { inputs: FusedConv2DInputs; backend: TorchBackend; attrs: FusedConv2DAttrs }): TensorInfo {
  const { inputs, backend, attrs } = args;
  const x = inputs.x as TensorInfo;
  const filter = inputs.filter as TensorInfo;
  const { strides, pad, dataFormat, dilations, dimRoundingMode, activation, leakyreluAlpha } = attrs;
  const format = backend_util.convertConv2DDataFormat(dataFormat);
  const info = backend_util.computeConv2DInfo(x.shape as [number, number, number, number],
    filter.shape as [number, number, number, number], strides, dilations, pad, dimRoundingMode, false, format);
  return run(backend, 'nnConv2d', backend.handle(x), backend.handle(filter),
    maybeHandle(backend, inputs.bias as TensorInfo | undefined),
    maybeHandle(backend, inputs.preluActivationWeights as TensorInfo | undefined),
    [info.strideHeight, info.strideWidth], padList(info), [info.dilationHeight, info.dilationWidth],
    [info.outHeight, info.outWidth], false, format === 'channelsLast', activationCode(activation),
    leakyreluAlpha ?? 0.2);
}

export const fusedConv2DConfig = nativeKernel(FusedConv2D, fusedConv2D);
