/**
 * Kernel names of the engine's fused calls, in a module without side effects, so `fused.ts` (the
 * `tfjs-backend-torch/fused` entry) can be imported without loading the addon or registering the
 * backend: it only dispatches these kernels when 'torch' is already the active backend.
 */
export const TorchBatchNormTrain = 'TorchBatchNormTrain';
export const TorchBatchNormTrainGrad = 'TorchBatchNormTrainGrad';
export const TorchSgdMomentumUpdate = 'TorchSgdMomentumUpdate';
export const TorchAdamUpdate = 'TorchAdamUpdate';
export const TorchLinfStep = 'TorchLinfStep';
export const TorchApgdLinfStep = 'TorchApgdLinfStep';
export const TorchApgdTrack = 'TorchApgdTrack';
export const TorchSquareAccept = 'TorchSquareAccept';
export const TorchLinfBoxProjection = 'TorchLinfBoxProjection';
