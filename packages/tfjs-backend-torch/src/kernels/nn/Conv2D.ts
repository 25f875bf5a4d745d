/**
 * Conv2D on libtorch: `at::convolution` on an NCHW view of the NHWC input (a channels_last tensor,
 * so oneDNN runs it without a layout copy). tfjs's padding, including the asymmetric 'same' of
 * stride 2 and dimRoundingMode, is normalised by `computeConv2DInfo` and reproduced natively
 * (ops_conv.cc MakePlan). Dilation is supported (tfjs has no gradient for dilated conv2d).
 */
import { backend_util, Conv2D } from '@tensorflow/tfjs-core';
import type { Conv2DAttrs, Conv2DInputs, TensorInfo } from '@tensorflow/tfjs-core';
import { ensureTorchGradients } from './gradients.js';
import type { TorchBackend } from '../../backend.js';
import { nativeKernel, run } from '../../kernel_util.js';
import { ACTIVATION_LINEAR, padList } from './native-args.js';

export function conv2D(args: { inputs: Conv2DInputs; backend: TorchBackend; attrs: Conv2DAttrs }): TensorInfo {
  const { inputs, backend, attrs } = args;
  const x = inputs.x as TensorInfo;
  const filter = inputs.filter as TensorInfo;
  const { strides, pad, dataFormat, dilations, dimRoundingMode } = attrs;
  ensureTorchGradients();
  const format = backend_util.convertConv2DDataFormat(dataFormat);
  const info = backend_util.computeConv2DInfo(x.shape as [number, number, number, number],
    filter.shape as [number, number, number, number], strides, dilations, pad, dimRoundingMode, false, format);
  return run(backend, 'nnConv2d', backend.handle(x), backend.handle(filter), -1, -1,
    [info.strideHeight, info.strideWidth], padList(info), [info.dilationHeight, info.dilationWidth],
    [info.outHeight, info.outWidth], false, format === 'channelsLast', ACTIVATION_LINEAR, 0);
}

export const conv2DConfig = nativeKernel(Conv2D, conv2D);
