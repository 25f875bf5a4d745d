/**
 * DepthwiseConv2dNative as a grouped convolution (groups = input channels): the filter
 * [kh, kw, in, mult] becomes ATen's [in*mult, 1, kh, kw], whose output order c*mult+m is tfjs's.
 */
import { backend_util, DepthwiseConv2dNative } from '@tensorflow/tfjs-core';
import type { DepthwiseConv2dNativeAttrs, DepthwiseConv2dNativeInputs, TensorInfo } from '@tensorflow/tfjs-core';
import type { TorchBackend } from '../../backend.js';
import { nativeKernel, run } from '../../kernel_util.js';
import { ACTIVATION_LINEAR, padList } from './native-args.js';

export function depthwiseConv2dNative(args: {
  inputs: DepthwiseConv2dNativeInputs; backend: TorchBackend; attrs: DepthwiseConv2dNativeAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  const x = inputs.x as TensorInfo;
  const filter = inputs.filter as TensorInfo;
  const { strides, pad, dilations, dimRoundingMode } = attrs;
  const info = backend_util.computeConv2DInfo(x.shape as [number, number, number, number],
    filter.shape as [number, number, number, number], strides, dilations ?? [1, 1], pad, dimRoundingMode, true);
  return run(backend, 'nnConv2d', backend.handle(x), backend.handle(filter), -1, -1,
    [info.strideHeight, info.strideWidth], padList(info), [info.dilationHeight, info.dilationWidth],
    [info.outHeight, info.outWidth], true, true, ACTIVATION_LINEAR, 0);
}

export const depthwiseConv2dNativeConfig = nativeKernel(DepthwiseConv2dNative, depthwiseConv2dNative);
