/** DepthwiseConv2dNativeBackpropInput: grouped `at::convolution_backward` (grad_input only). */
import { backend_util, DepthwiseConv2dNativeBackpropInput } from '@tensorflow/tfjs-core';
import type {
  DepthwiseConv2dNativeBackpropInputAttrs, DepthwiseConv2dNativeBackpropInputInputs, TensorInfo,
} from '@tensorflow/tfjs-core';
import type { TorchBackend } from '../../backend.js';
import { nativeKernel, run } from '../../kernel_util.js';
import { padList } from './native-args.js';

export function depthwiseConv2dNativeBackpropInput(args: {
  inputs: DepthwiseConv2dNativeBackpropInputInputs; backend: TorchBackend; attrs: DepthwiseConv2dNativeBackpropInputAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  const dy = inputs.dy as TensorInfo;
  const filter = inputs.filter as TensorInfo;
  const { strides, dilations, pad, dimRoundingMode, inputShape } = attrs;
  const info = backend_util.computeConv2DInfo(inputShape, filter.shape as [number, number, number, number],
    strides, dilations, pad, dimRoundingMode, true);
  return run(backend, 'nnConv2dBackpropInput', backend.handle(dy), backend.handle(filter),
    [...inputShape], [info.strideHeight, info.strideWidth], padList(info),
    [info.dilationHeight, info.dilationWidth], true, true, [info.outHeight, info.outWidth]);
}

export const depthwiseConv2dNativeBackpropInputConfig = nativeKernel(DepthwiseConv2dNativeBackpropInput, depthwiseConv2dNativeBackpropInput);
