/**
 * The torch backend's neural-network kernels: convolutions, pooling, batch
 * norm, matmul and resize, forward and backward, plus the two fused backward kernels used by the
 * gradient overrides of gradients.ts. register.ts registers `nnKernelConfigs` and then calls
 * `registerTorchGradients()`.
 */
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { avgPoolConfig } from './AvgPool.js';
import { avgPoolGradConfig } from './AvgPoolGrad.js';
import { batchMatMulConfig } from './BatchMatMul.js';
import { conv2DConfig } from './Conv2D.js';
import { conv2DBackpropFilterConfig } from './Conv2DBackpropFilter.js';
import { conv2DBackpropInputConfig } from './Conv2DBackpropInput.js';
import { depthwiseConv2dNativeConfig } from './DepthwiseConv2dNative.js';
import { depthwiseConv2dNativeBackpropFilterConfig } from './DepthwiseConv2dNativeBackpropFilter.js';
import { depthwiseConv2dNativeBackpropInputConfig } from './DepthwiseConv2dNativeBackpropInput.js';
import { fusedBatchNormConfig } from './FusedBatchNorm.js';
import { fusedConv2DConfig } from './FusedConv2D.js';
import { fusedDepthwiseConv2DConfig } from './FusedDepthwiseConv2D.js';
import { fusedMatMulConfig } from './_FusedMatMul.js';
import { maxPoolConfig } from './MaxPool.js';
import { maxPoolGradConfig } from './MaxPoolGrad.js';
import { resizeBilinearConfig } from './ResizeBilinear.js';
import { resizeBilinearGradConfig } from './ResizeBilinearGrad.js';
import { resizeNearestNeighborConfig } from './ResizeNearestNeighbor.js';
import { resizeNearestNeighborGradConfig } from './ResizeNearestNeighborGrad.js';
import { torchBatchNormGradConfig } from './TorchBatchNormGrad.js';
import { torchReluGradConfig } from './TorchReluGrad.js';
import { torchLeakyReluGradConfig } from './TorchLeakyReluGrad.js';
import { torchBatchNormTrainConfig } from './TorchBatchNormTrain.js';
import { torchBatchNormTrainGradConfig } from './TorchBatchNormTrainGrad.js';
import { torchAdamUpdateConfig, torchSgdMomentumUpdateConfig } from './TorchOptimizerUpdate.js';
import { torchApgdLinfStepConfig, torchApgdTrackConfig, torchLinfBoxProjectionConfig, torchLinfStepConfig, torchSquareAcceptConfig } from './TorchLinfStep.js';

export const nnKernelConfigs: KernelConfig[] = [
  conv2DConfig,
  conv2DBackpropInputConfig,
  conv2DBackpropFilterConfig,
  fusedConv2DConfig,
  depthwiseConv2dNativeConfig,
  depthwiseConv2dNativeBackpropInputConfig,
  depthwiseConv2dNativeBackpropFilterConfig,
  fusedDepthwiseConv2DConfig,
  maxPoolConfig,
  maxPoolGradConfig,
  avgPoolConfig,
  avgPoolGradConfig,
  fusedBatchNormConfig,
  batchMatMulConfig,
  fusedMatMulConfig,
  resizeBilinearConfig,
  resizeBilinearGradConfig,
  resizeNearestNeighborConfig,
  resizeNearestNeighborGradConfig,
  torchBatchNormGradConfig,
  torchReluGradConfig,
  torchLeakyReluGradConfig,
  torchBatchNormTrainConfig,
  torchBatchNormTrainGradConfig,
  torchSgdMomentumUpdateConfig,
  torchAdamUpdateConfig,
  torchLinfStepConfig,
  torchApgdLinfStepConfig,
  torchApgdTrackConfig,
  torchSquareAcceptConfig,
  torchLinfBoxProjectionConfig,
];

export { ensureTorchGradients, registerTorchGradients } from './gradients.js';
export { TorchBatchNormGrad } from './TorchBatchNormGrad.js';
export { TorchReluGrad } from './TorchReluGrad.js';
export { TorchLeakyReluGrad } from './TorchLeakyReluGrad.js';
export * from '../../fused_names.js';
