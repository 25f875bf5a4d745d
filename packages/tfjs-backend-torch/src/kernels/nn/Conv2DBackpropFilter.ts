/**
 * Conv2DBackpropFilter: the filter gradient of Conv2D (the kernel tfjs's wasm backend lacks).
 * Native: `at::convolution_backward` (grad_weight only); OIHW result permuted back to HWIO.
 *
 * The result is deferred (TorchBackend.deferred): computed when a kernel or a read first needs it.
 * tfjs's fused conv2d gradient (every tfjs-layers Conv2D) always asks for the filter gradient, and
 * a gradient attack, which differentiates w.r.t. the input only, disposes it unread: deferring
 * skips that third of the backward pass. Training consumes it in the optimizer, at the cost of
 * keeping each layer's x and dy alive until then. TFJS_TORCH_DEFER_FILTER_GRAD=0 computes eagerly.
 */
import { backend_util, Conv2DBackpropFilter } from '@tensorflow/tfjs-core';
import type { Conv2DBackpropFilterAttrs, Conv2DBackpropFilterInputs, TensorInfo } from '@tensorflow/tfjs-core';
import type { TorchBackend } from '../../backend.js';
import { call, nativeKernel } from '../../kernel_util.js';
import { padList } from './native-args.js';

const defer = process.env.TFJS_TORCH_DEFER_FILTER_GRAD !== '0';

export function conv2DBackpropFilter(args: {
  inputs: Conv2DBackpropFilterInputs; backend: TorchBackend; attrs: Conv2DBackpropFilterAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  const x = inputs.x as TensorInfo;
  const dy = inputs.dy as TensorInfo;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs;
  const format = backend_util.convertConv2DDataFormat(dataFormat);
  const info = backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filterShape,
    strides, 1, pad, dimRoundingMode, false, format);
  const compute = (xh: number, dyh: number) => call(backend, 'nnConv2dBackpropFilter', xh, dyh,
    [...filterShape], [info.strideHeight, info.strideWidth], padList(info),
    [info.dilationHeight, info.dilationWidth], false, format === 'channelsLast');
  if (!defer || x.dtype !== 'float32' || dy.dtype !== 'float32') {
    return backend.fromNative(compute(backend.handle(x), backend.handle(dy)));
  }
  return backend.deferred([...filterShape], 'float32', [x, dy], ([xh, dyh]) => compute(xh, dyh));
}

export const conv2DBackpropFilterConfig = nativeKernel(Conv2DBackpropFilter, conv2DBackpropFilter);
