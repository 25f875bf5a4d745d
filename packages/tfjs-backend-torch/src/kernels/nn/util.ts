/**
 * Glue between the nn kernels and the backend: the native entry points of ops_conv.cc,
 * ops_pool.cc and ops_nn.cc, and the conversions between tfjs TensorInfos and native handles.
 * Every kernel file in this folder goes through these helpers only, so the kernels read like
 * tfjs-node's: normalise attributes with tfjs's own helpers, call one native function, return.
 */
import type { backend_util, KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';

import type { TorchBackend } from '../../backend.js';
import { nativeKernel, type NativeKernelBody } from '../../kernel_util.js';

/** A native result: [handle, dtypeCode, rank, ...shape] (context.h ReturnTensor). */
type NativeResult = Int32Array;

/** The nn part of the addon (native/ops_*.cc). `-1` passes an absent optional tensor. */
export interface NnBinding {
  NnConv2d(x: number, filter: number, bias: number, prelu: number, strides: number[], pads: number[],
    dilations: number[], outHW: number[], depthwise: boolean, channelsLast: boolean,
    activation: number, leakyreluAlpha: number): NativeResult;
  NnConv2dBackpropInput(dy: number, filter: number, inputShape: number[], strides: number[], pads: number[],
    dilations: number[], depthwise: boolean, channelsLast: boolean, outHW: number[]): NativeResult;
  NnConv2dBackpropFilter(x: number, dy: number, filterShape: number[], strides: number[], pads: number[],
    dilations: number[], depthwise: boolean, channelsLast: boolean): NativeResult;
  NnMaxPool(x: number, filter: number[], strides: number[], pads: number[], outHW: number[]): NativeResult;
  NnMaxPoolGrad(dy: number, x: number, filter: number[], strides: number[], pads: number[]): NativeResult;
  NnAvgPool(x: number, filter: number[], strides: number[], pads: number[], outHW: number[]): NativeResult;
  NnAvgPoolGrad(dy: number, x: number, filter: number[], strides: number[], pads: number[]): NativeResult;
  NnBatchNorm(x: number, mean: number, variance: number, offset: number, scale: number, eps: number): NativeResult;
  NnBatchNormGrad(dy: number, x: number, mean: number, variance: number, scale: number, eps: number): NativeResult[];
  NnReluGrad(dy: number, x: number): NativeResult;
  NnMatMul(a: number, b: number, transposeA: boolean, transposeB: boolean, bias: number, prelu: number,
    activation: number, leakyreluAlpha: number): NativeResult;
  NnResizeBilinear(images: number, newH: number, newW: number, alignCorners: boolean, halfPixelCenters: boolean): NativeResult;
  NnResizeBilinearGrad(dy: number, images: number, alignCorners: boolean): NativeResult;
  NnResizeNearest(images: number, newH: number, newW: number, alignCorners: boolean, halfPixelCenters: boolean): NativeResult;
  NnResizeNearestGrad(dy: number, images: number, alignCorners: boolean): NativeResult;
}

/** The backend as the nn kernels see it. */
export type TorchBackendLike = TorchBackend;

export function nn(backend: TorchBackend): NnBinding {
  if (!backend.binding.hasNnOps) {
    throw new Error('torch backend: the addon was built without native/ops_nn.cc (rebuild with npm run build:native)');
  }
  return backend.binding as unknown as NnBinding;
}

/** Native handle of an input (uploads lazily-held JS values on first use). */
export function handle(backend: TorchBackend, t: TensorInfo): number {
  return backend.handle(t);
}

/** Handle of an optional input, or -1 (native: absent). */
export function maybeHandle(backend: TorchBackend, t: TensorInfo | null | undefined): number {
  return t == null ? -1 : backend.handle(t);
}

export function result(backend: TorchBackend, r: NativeResult): TensorInfo {
  return backend.fromNative(r);
}

/** tfjs's padInfo as the native [top, bottom, left, right]. */
export function padList(info: backend_util.Conv2DInfo): number[] {
  const p = info.padInfo;
  return [p.top, p.bottom, p.left, p.right];
}

/** Activation codes of native/ops_nn.h (tt::nn::Activation). */
export const ACTIVATION_LINEAR = 0;
const ACTIVATION_CODES: Record<string, number> = {
  linear: 0, relu: 1, relu6: 2, elu: 3, sigmoid: 4, leakyrelu: 5, prelu: 6,
};

export function activationCode(activation: string | undefined | null): number {
  const name = activation ?? 'linear';
  const code = ACTIVATION_CODES[name];
  if (code === undefined) {
    throw new Error(`torch backend: unknown fused activation '${name}' (expected one of ${Object.keys(ACTIVATION_CODES).join(', ')})`);
  }
  return code;
}

/** A native nn kernel config (counted, with the cpu fallback for non-native dtypes). */
export function nnKernel<A>(kernelName: string, body: (args: A) => TensorInfo | TensorInfo[]): KernelConfig {
  return nativeKernel(kernelName, body as unknown as NativeKernelBody);
}
