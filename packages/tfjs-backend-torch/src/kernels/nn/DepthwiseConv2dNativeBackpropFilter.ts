/** DepthwiseConv2dNativeBackpropFilter: grouped `at::convolution_backward` (grad_weight only). */
import { backend_util, DepthwiseConv2dNativeBackpropFilter } from '@tensorflow/tfjs-core';
import type {
  DepthwiseConv2dNativeBackpropFilterAttrs, DepthwiseConv2dNativeBackpropFilterInputs, TensorInfo,
} from '@tensorflow/tfjs-core';
import type { TorchBackend } from '../../backend.js';
import { nativeKernel, run } from '../../kernel_util.js';
import { padList } from './native-args.js';

export function depthwiseConv2dNativeBackpropFilter(args: {
  inputs: DepthwiseConv2dNativeBackpropFilterInputs; backend: TorchBackend; attrs: DepthwiseConv2dNativeBackpropFilterAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  const x = inputs.x as TensorInfo;
  const dy = inputs.dy as TensorInfo;
  const { strides, dilations, pad, dimRoundingMode, filterShape } = attrs;
  const info = backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filterShape,
    strides, dilations, pad, dimRoundingMode, true);
  return run(backend, 'nnConv2dBackpropFilter', backend.handle(x), backend.handle(dy),
    [...filterShape], [info.strideHeight, info.strideWidth], padList(info),
    [info.dilationHeight, info.dilationWidth], true, true);
}

export const depthwiseConv2dNativeBackpropFilterConfig = nativeKernel(DepthwiseConv2dNativeBackpropFilter, depthwiseConv2dNativeBackpropFilter);
