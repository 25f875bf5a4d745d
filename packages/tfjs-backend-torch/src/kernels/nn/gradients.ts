/**
 * Fused backward passes on the torch backend only (engine guide §5.6).
 *
 * tfjs's gradient of FusedBatchNorm is ~8 element-wise kernels and Relu's is Step × Cast × Multiply.
 * Gradients are global in tfjs (not per backend), so instead of replacing them we capture the
 * registered GradConfig and re-register a wrapper that, when the active backend is 'torch',
 * dispatches one native kernel (TorchBatchNormGrad / TorchReluGrad) and otherwise calls the
 * original gradFunc unchanged. The wrapper keeps the original's inputsToSave/outputsToSave.
 *
 * Higher-order gradients: while an outer tape is recording (engine gradientDepth > 0) the backward
 * ops must themselves be differentiable, so the wrappers fall back to tfjs's formula there.
 *
 * Registration order: whoever registers tfjs-core's gradients later (tfjs-layers' bundle,
 * `register_all_gradients`) silently replaces the wrappers. ensureTorchGradients() detects that
 * with two map lookups and re-wraps; the Conv2D and FusedBatchNorm kernels call it, so the fused
 * gradients are in place before any CNN's first backward pass, whatever the import order.
 */
import * as tf from '@tensorflow/tfjs-core';
import { FusedBatchNorm, LeakyRelu, Mean, Relu, Sum } from '@tensorflow/tfjs-core';
import type { GradConfig, NamedAttrMap, NamedTensorMap, Tensor } from '@tensorflow/tfjs-core';
import { TorchBatchNormGrad } from './TorchBatchNormGrad.js';
import { TorchReluGrad } from './TorchReluGrad.js';
import { TorchLeakyReluGrad } from './TorchLeakyReluGrad.js';
import { TorchBatchNormTrain, TorchBatchNormTrainGrad } from '../../fused_names.js';

type GradFunc = GradConfig['gradFunc'];

/** The wrapper we registered, per kernel name (to detect being overridden). */
const installed = new Map<string, GradConfig>();

function onTorchOutsideTape(): boolean {
  return tf.getBackend() === 'torch' && tf.engine().state.gradientDepth === 0;
}

function wrap(kernelName: string, make: (original: GradConfig) => GradFunc): void {
  const current = tf.getGradient(kernelName);
  if (current === undefined || current === installed.get(kernelName)) return;
  const config: GradConfig = { ...current, gradFunc: make(current) };
  installed.set(kernelName, config);
  tf.registerGradient(config);
}

function reluGrad(original: GradConfig): GradFunc {
  return (dy, saved, attrs) => {
    const [x] = saved;
    if (!onTorchOutsideTape() || x.dtype !== 'float32' || Array.isArray(dy) || dy.dtype !== 'float32') {
      return original.gradFunc(dy, saved, attrs);
    }
    return { x: () => tf.engine().runKernel(TorchReluGrad, { dy, x }) as Tensor };
  };
}

/** LeakyRelu: one TorchLeakyReluGrad kernel instead of tfjs's Greater, Multiply and Select. */
function leakyReluGrad(original: GradConfig): GradFunc {
  return (dy, saved, attrs) => {
    const [x] = saved;
    if (!onTorchOutsideTape() || x.dtype !== 'float32' || Array.isArray(dy) || dy.dtype !== 'float32') {
      return original.gradFunc(dy, saved, attrs);
    }
    const alpha = (attrs as { alpha: number }).alpha;
    return { x: () => tf.engine().runKernel(TorchLeakyReluGrad, { dy, x }, { alpha }) as Tensor };
  };
}

/**
 * Sum and Mean: tfjs multiplies dy by `ones(x.shape)`, a JS array of x's size built and uploaded
 * on every backward pass (two per training-mode batch norm, through its moments). That host work
 * and copy cost more than the kernels around it on CPU and dominate the step on a GPU. Here dy is
 * scaled (Mean) and broadcast to x's shape on the device instead: one Tile kernel, nothing on the host.
 */
function reductionGrad(divideByCount: boolean): (original: GradConfig) => GradFunc {
  return (original) => (dy, saved, attrs) => {
    const [x] = saved;
    if (!onTorchOutsideTape() || x.dtype !== 'float32' || Array.isArray(dy) || dy.dtype !== 'float32') {
      return original.gradFunc(dy, saved, attrs);
    }
    const axes = tf.util.parseAxisParam((attrs as { axis: number | number[] }).axis, x.shape);
    const keptShape = x.shape.slice();
    let count = 1;
    for (const a of axes) { count *= x.shape[a]; keptShape[a] = 1; }
    return {
      x: () => tf.tidy(() => {
        const g = tf.reshape(dy, keptShape);
        return tf.broadcastTo(divideByCount ? tf.div(g, count) : g, x.shape);
      }),
    };
  };
}

function batchNormGrad(original: GradConfig): GradFunc {
  return (dy, saved, attrs: NamedAttrMap) => {
    const [x, mean, variance, scale] = saved as [Tensor, Tensor, Tensor, Tensor | undefined];
    const channels = x.shape[x.rank - 1];
    const perChannel = (t: Tensor | undefined | null) =>
      t == null || (t.rank === 1 && t.shape[0] === channels && t.dtype === 'float32');
    if (!onTorchOutsideTape() || Array.isArray(dy) || x.rank < 2 || x.dtype !== 'float32' ||
        dy.dtype !== 'float32' || mean == null || variance == null || !perChannel(mean) ||
        !perChannel(variance) || !perChannel(scale)) {
      return original.gradFunc(dy, saved, attrs);
    }
    const eps = (attrs.varianceEpsilon as number | undefined) ?? 0.001;
    const inputs: NamedTensorMap = scale != null ? { dy, x, mean, variance, scale } : { dy, x, mean, variance };
    const [dx, dScale, dOffset] = tf.engine().runKernel(TorchBatchNormGrad, inputs, { varianceEpsilon: eps }) as Tensor[];
    // With r = rsqrt(variance + eps) and s = scale (or 1), tfjs's formula gives
    //   dMean = -r * s * sum(dy)                        = -r * s * dOffset
    //   dVariance = -0.5 * r^3 * s * sum(dy * (x-mean)) = -0.5 * r^2 * s * dScale
    const withScale = (t: Tensor) => (scale != null ? tf.mul(t, scale) : t);
    return {
      x: () => dx,
      mean: () => tf.tidy(() => withScale(tf.mul(tf.neg(tf.rsqrt(tf.add(variance, eps))), dOffset))),
      variance: () => tf.tidy(() => {
        const r = tf.rsqrt(tf.add(variance, eps));
        return withScale(tf.mul(tf.mul(tf.mul(r, r), -0.5), dScale));
      }),
      scale: () => dScale,
      offset: () => dOffset,
    };
  };
}

/**
 * Wraps the currently registered Relu, LeakyRelu, FusedBatchNorm, Mean and Sum gradients (no-op for a gradient that is
 * not registered yet, or already wrapped). Call once after registering the backend.
 */
const WRAPPED: Array<[string, (original: GradConfig) => GradFunc]> = [
  [Relu, reluGrad], [LeakyRelu, leakyReluGrad], [FusedBatchNorm, batchNormGrad], [Mean, reductionGrad(true)], [Sum, reductionGrad(false)],
];

/**
 * The gradient of this backend's own TorchBatchNormTrain kernel: one TorchBatchNormTrainGrad
 * call for x, scale and offset (through the batch statistics). The batch-statistic outputs are
 * internal (fused.ts does not hand them out), so their dys are ignored; running statistics get
 * zero gradients. Not differentiable again (no second-order gradients through it).
 */
const batchNormTrainGrad: GradConfig = {
  kernelName: TorchBatchNormTrain,
  inputsToSave: ['x', 'scale'],
  outputsToSave: [false, true, true],
  gradFunc: (dys, saved, attrs) => {
    const dy = (Array.isArray(dys) ? dys[0] : dys) as Tensor;
    const [x, scale, batchMean, batchInvStd] = saved as [Tensor, Tensor | undefined, Tensor, Tensor];
    const inputs: NamedTensorMap = scale != null ? { dy, x, scale, batchMean, batchInvStd } : { dy, x, batchMean, batchInvStd };
    const [dx, dScale, dOffset] = tf.engine().runKernel(TorchBatchNormTrainGrad, inputs,
      { varianceEpsilon: (attrs as { varianceEpsilon: number }).varianceEpsilon }) as Tensor[];
    const channels = x.shape[x.rank - 1];
    return {
      x: () => dx, scale: () => dScale, offset: () => dOffset,
      runningMean: () => tf.zeros([channels]), runningVariance: () => tf.zeros([channels]),
    };
  },
};

export function registerTorchGradients(): void {
  for (const [name, make] of WRAPPED) wrap(name, make);
  if (tf.getGradient(TorchBatchNormTrain) === undefined) tf.registerGradient(batchNormTrainGrad);
}

/** Cheap check used by kernels: re-wrap if someone re-registered the original gradients. */
export function ensureTorchGradients(): void {
  for (const [name] of WRAPPED) {
    if (tf.getGradient(name) !== installed.get(name)) { registerTorchGradients(); return; }
  }
}
