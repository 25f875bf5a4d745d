/**
 * Conv2DBackpropFilter: the filter gradient of Conv2D (the kernel tfjs's wasm backend lacks).
 * Native: `at::convolution_backward` (grad_weight only); OIHW result permuted back to HWIO.
 */
import { backend_util, Conv2DBackpropFilter } from '@tensorflow/tfjs-core';
import type { Conv2DBackpropFilterAttrs, Conv2DBackpropFilterInputs, TensorInfo } from '@tensorflow/tfjs-core';
import { handle, nn, nnKernel, padList, result, type TorchBackendLike } from './util.js';

export function conv2DBackpropFilter(args: {
  inputs: Conv2DBackpropFilterInputs; backend: TorchBackendLike; attrs: Conv2DBackpropFilterAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  const x = inputs.x as TensorInfo;
  const dy = inputs.dy as TensorInfo;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs;
  const format = backend_util.convertConv2DDataFormat(dataFormat);
  const info = backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filterShape,
    strides, 1, pad, dimRoundingMode, false, format);
  return result(backend, nn(backend).NnConv2dBackpropFilter(handle(backend, x), handle(backend, dy),
    [...filterShape], [info.strideHeight, info.strideWidth], padList(info),
    [info.dilationHeight, info.dilationWidth], false, format === 'channelsLast'));
}

export const conv2DBackpropFilterConfig = nnKernel(Conv2DBackpropFilter, conv2DBackpropFilter);
