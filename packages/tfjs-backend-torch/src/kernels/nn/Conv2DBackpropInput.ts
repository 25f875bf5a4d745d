/**
 * Conv2DBackpropInput: the input gradient of Conv2D, and the forward pass of conv2dTranspose.
 * Native: `at::convolution_backward` (grad_input only) on the padded input extent, then a crop
 * back to `inputShape` where tfjs's padding was asymmetric.
 */
import { backend_util, Conv2DBackpropInput } from '@tensorflow/tfjs-core';
import type { Conv2DBackpropInputAttrs, Conv2DBackpropInputInputs, TensorInfo } from '@tensorflow/tfjs-core';
import type { TorchBackend } from '../../backend.js';
import { nativeKernel, run } from '../../kernel_util.js';
import { padList } from './native-args.js';

export function conv2DBackpropInput(args: {
  inputs: Conv2DBackpropInputInputs; backend: TorchBackend; attrs: Conv2DBackpropInputAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  const dy = inputs.dy as TensorInfo;
  const filter = inputs.filter as TensorInfo;
  const { inputShape, strides, pad, dataFormat, dimRoundingMode } = attrs;
  const format = backend_util.convertConv2DDataFormat(dataFormat);
  const info = backend_util.computeConv2DInfo(inputShape, filter.shape as [number, number, number, number],
    strides, 1, pad, dimRoundingMode, false, format);
  return run(backend, 'nnConv2dBackpropInput', backend.handle(dy), backend.handle(filter),
    [...inputShape], [info.strideHeight, info.strideWidth], padList(info),
    [info.dilationHeight, info.dilationWidth], false, format === 'channelsLast', [info.outHeight, info.outWidth]);
}

export const conv2DBackpropInputConfig = nativeKernel(Conv2DBackpropInput, conv2DBackpropInput);
