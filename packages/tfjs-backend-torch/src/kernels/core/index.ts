/** Every native "core" kernel (element-wise, reductions, shape ops): registered by src/register.ts. */
import type { KernelConfig } from '@tensorflow/tfjs-core';

import { absConfig } from './Abs.js';
import { acosConfig } from './Acos.js';
import { acoshConfig } from './Acosh.js';
import { addConfig } from './Add.js';
import { addNConfig } from './AddN.js';
import { allConfig } from './All.js';
import { anyConfig } from './Any.js';
import { argMaxConfig } from './ArgMax.js';
import { argMinConfig } from './ArgMin.js';
import { asinConfig } from './Asin.js';
import { asinhConfig } from './Asinh.js';
import { atanConfig } from './Atan.js';
import { atan2Config } from './Atan2.js';
import { atanhConfig } from './Atanh.js';
import { castConfig } from './Cast.js';
import { ceilConfig } from './Ceil.js';
import { clipByValueConfig } from './ClipByValue.js';
import { concatConfig } from './Concat.js';
import { cosConfig } from './Cos.js';
import { coshConfig } from './Cosh.js';
import { cumprodConfig } from './Cumprod.js';
import { cumsumConfig } from './Cumsum.js';
import { eluConfig } from './Elu.js';
import { eluGradConfig } from './EluGrad.js';
import { equalConfig } from './Equal.js';
import { erfConfig } from './Erf.js';
import { expConfig } from './Exp.js';
import { expandDimsConfig } from './ExpandDims.js';
import { expm1Config } from './Expm1.js';
import { fillConfig } from './Fill.js';
import { flipLeftRightConfig } from './FlipLeftRight.js';
import { floorConfig } from './Floor.js';
import { floorDivConfig } from './FloorDiv.js';
import { gatherV2Config } from './GatherV2.js';
import { greaterConfig } from './Greater.js';
import { greaterEqualConfig } from './GreaterEqual.js';
import { identityConfig } from './Identity.js';
import { isFiniteConfig } from './IsFinite.js';
import { isInfConfig } from './IsInf.js';
import { isNanConfig } from './IsNan.js';
import { leakyReluConfig } from './LeakyRelu.js';
import { lessConfig } from './Less.js';
import { lessEqualConfig } from './LessEqual.js';
import { logConfig } from './Log.js';
import { log1pConfig } from './Log1p.js';
import { logicalAndConfig } from './LogicalAnd.js';
import { logicalNotConfig } from './LogicalNot.js';
import { logicalOrConfig } from './LogicalOr.js';
import { maxConfig } from './Max.js';
import { maximumConfig } from './Maximum.js';
import { meanConfig } from './Mean.js';
import { minConfig } from './Min.js';
import { minimumConfig } from './Minimum.js';
import { mirrorPadConfig } from './MirrorPad.js';
import { modConfig } from './Mod.js';
import { multiplyConfig } from './Multiply.js';
import { negConfig } from './Neg.js';
import { notEqualConfig } from './NotEqual.js';
import { oneHotConfig } from './OneHot.js';
import { onesLikeConfig } from './OnesLike.js';
import { packConfig } from './Pack.js';
import { padV2Config } from './PadV2.js';
import { powConfig } from './Pow.js';
import { preluConfig } from './Prelu.js';
import { prodConfig } from './Prod.js';
import { rangeConfig } from './Range.js';
import { realDivConfig } from './RealDiv.js';
import { reciprocalConfig } from './Reciprocal.js';
import { reluConfig } from './Relu.js';
import { relu6Config } from './Relu6.js';
import { reshapeConfig } from './Reshape.js';
import { reverseConfig } from './Reverse.js';
import { roundConfig } from './Round.js';
import { rsqrtConfig } from './Rsqrt.js';
import { scatterNdConfig } from './ScatterNd.js';
import { selectConfig } from './Select.js';
import { seluConfig } from './Selu.js';
import { sigmoidConfig } from './Sigmoid.js';
import { signConfig } from './Sign.js';
import { sinConfig } from './Sin.js';
import { sinhConfig } from './Sinh.js';
import { sliceConfig } from './Slice.js';
import { softmaxConfig } from './Softmax.js';
import { softplusConfig } from './Softplus.js';
import { splitVConfig } from './SplitV.js';
import { sqrtConfig } from './Sqrt.js';
import { squareConfig } from './Square.js';
import { squaredDifferenceConfig } from './SquaredDifference.js';
import { stepConfig } from './Step.js';
import { stridedSliceConfig } from './StridedSlice.js';
import { subConfig } from './Sub.js';
import { sumConfig } from './Sum.js';
import { tanConfig } from './Tan.js';
import { tanhConfig } from './Tanh.js';
import { tileConfig } from './Tile.js';
import { topKConfig } from './TopK.js';
import { transposeConfig } from './Transpose.js';
import { unpackConfig } from './Unpack.js';
import { unsortedSegmentSumConfig } from './UnsortedSegmentSum.js';
import { zerosLikeConfig } from './ZerosLike.js';

export const coreKernelConfigs: KernelConfig[] = [
  absConfig,
  acosConfig,
  acoshConfig,
  addConfig,
  addNConfig,
  allConfig,
  anyConfig,
  argMaxConfig,
  argMinConfig,
  asinConfig,
  asinhConfig,
  atanConfig,
  atan2Config,
  atanhConfig,
  castConfig,
  ceilConfig,
  clipByValueConfig,
  concatConfig,
  cosConfig,
  coshConfig,
  cumprodConfig,
  cumsumConfig,
  eluConfig,
  eluGradConfig,
  equalConfig,
  erfConfig,
  expConfig,
  expandDimsConfig,
  expm1Config,
  fillConfig,
  flipLeftRightConfig,
  floorConfig,
  floorDivConfig,
  gatherV2Config,
  greaterConfig,
  greaterEqualConfig,
  identityConfig,
  isFiniteConfig,
  isInfConfig,
  isNanConfig,
  leakyReluConfig,
  lessConfig,
  lessEqualConfig,
  logConfig,
  log1pConfig,
  logicalAndConfig,
  logicalNotConfig,
  logicalOrConfig,
  maxConfig,
  maximumConfig,
  meanConfig,
  minConfig,
  minimumConfig,
  mirrorPadConfig,
  modConfig,
  multiplyConfig,
  negConfig,
  notEqualConfig,
  oneHotConfig,
  onesLikeConfig,
  packConfig,
  padV2Config,
  powConfig,
  preluConfig,
  prodConfig,
  rangeConfig,
  realDivConfig,
  reciprocalConfig,
  reluConfig,
  relu6Config,
  reshapeConfig,
  reverseConfig,
  roundConfig,
  rsqrtConfig,
  scatterNdConfig,
  selectConfig,
  seluConfig,
  sigmoidConfig,
  signConfig,
  sinConfig,
  sinhConfig,
  sliceConfig,
  softmaxConfig,
  softplusConfig,
  splitVConfig,
  sqrtConfig,
  squareConfig,
  squaredDifferenceConfig,
  stepConfig,
  stridedSliceConfig,
  subConfig,
  sumConfig,
  tanConfig,
  tanhConfig,
  tileConfig,
  topKConfig,
  transposeConfig,
  unpackConfig,
  unsortedSegmentSumConfig,
  zerosLikeConfig,
];
