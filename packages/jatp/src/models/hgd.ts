/**
 * HGD denoiser (Liao et al., CVPR 2018): the DUNET U-Net adapted to 32x32 (spec §4.2).
 * Block = conv3x3 (padding 1, no bias) + BN + ReLU. Encoder groups fwd0..fwd4 with widths
 * [64, 128, 256, 256, 256] x [2, 3, 3, 3, 3] convs, the first conv of fwd1..fwd4 with stride 2.
 * Decoder groups back3..back0 with widths [256, 256, 128, 64] x [3, 3, 3, 2] convs: each upsamples
 * the coarser map bilinearly to the stored encoder resolution and concatenates that skip first.
 * A 1x1 conv (no bias) maps to the image channels and the output is `x + final` (residual denoiser).
 * 11,033,984 parameters at widthScale 1 (spec §5c).
 *
 * Upsampling: UpSampling2D(2, bilinear) followed, only when the skip is smaller (odd sizes), by
 * Cropping2D of the last row/column. At 28x28 the encoder sizes are 28, 14, 7, 4, 2; the 4 -> 7 step
 * upsamples to 8 and crops to 7. Both are stock tfjs layers, so the model exports to model.json.
 * Note: tfjs bilinear upsampling samples at dst/2 (TF's legacy half-pixel-free rule), while PyTorch
 * align_corners=False samples at (dst+0.5)/2-0.5; the HGD is trained from scratch here, so this only
 * matters when importing a PyTorch-trained HGD (not supported).
 *
 * Options (defaults): inChannels 3, widthScale 1 (every width multiplied and rounded, for CPU runs),
 * inputSize 32 (>= 16), seed.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { LayersNetwork, TorchStyleBuilder, checkOptionKeys, intOption, optionalSeed } from './layers-network.js';

const FWD_OUT = [64, 128, 256, 256, 256];
const NUM_FWD = [2, 3, 3, 3, 3];
const BACK_OUT = [64, 128, 256, 256];
const NUM_BACK = [2, 3, 3, 3];

export function buildHgd(options: Record<string, unknown> = {}): LayersNetwork {
  const arch = 'hgd';
  checkOptionKeys(arch, options, ['inChannels', 'widthScale', 'inputSize', 'seed']);
  const inChannels = intOption(arch, options, 'inChannels', 3);
  const inputSize = intOption(arch, options, 'inputSize', 32, 16);
  const widthScale = options['widthScale'] ?? 1;
  if (typeof widthScale !== 'number' || !(widthScale > 0)) {
    throw new Error(`${arch}: option 'widthScale' must be a positive number, got ${JSON.stringify(options['widthScale'])}`);
  }
  const w = (c: number): number => Math.max(1, Math.round(c * widthScale));
  const b = new TorchStyleBuilder(optionalSeed(arch, options));
  const block = (x: tfl.SymbolicTensor, name: string, inCh: number, outCh: number, stride: number): tfl.SymbolicTensor =>
    b.relu(b.bn(b.conv(x, `${name}.conv`, { inCh, outCh, kernel: 3, stride, padding: 1, bias: false }), `${name}.bn`), `${name}.relu`);

  const input = tfl.input({ shape: [inputSize, inputSize, inChannels], name: 'input' });
  const features: Record<string, tfl.SymbolicTensor> = {};
  const skips: Array<{ t: tfl.SymbolicTensor; size: number; ch: number }> = [];
  let h = input;
  let ch = inChannels;
  let size = inputSize;
  for (let g = 0; g < FWD_OUT.length; g++) {
    for (let i = 0; i < NUM_FWD[g]!; i++) {
      const stride = g > 0 && i === 0 ? 2 : 1;
      if (stride === 2) size = Math.floor((size - 1) / 2) + 1;
      h = block(h, `fwd${g}.${i}`, ch, w(FWD_OUT[g]!), stride);
      ch = w(FWD_OUT[g]!);
    }
    features[`fwd${g}`] = h;
    skips.push({ t: h, size, ch });
  }
  for (let g = BACK_OUT.length - 1; g >= 0; g--) {
    const skip = skips[g]!;
    let up = tfl.layers.upSampling2d({ size: [2, 2], interpolation: 'bilinear', name: `back${g}.up` }).apply(h) as tfl.SymbolicTensor;
    const extra = 2 * size - skip.size;
    if (extra < 0 || extra > 1) throw new Error(`${arch}: internal size mismatch at back${g} (${size} -> ${skip.size})`);
    if (extra === 1) up = tfl.layers.cropping2D({ cropping: [[0, 1], [0, 1]], name: `back${g}.crop` }).apply(up) as tfl.SymbolicTensor;
    h = b.concat([skip.t, up], `back${g}.cat`);
    ch = skip.ch + ch;
    for (let i = 0; i < NUM_BACK[g]!; i++) {
      h = block(h, `back${g}.${i}`, ch, w(BACK_OUT[g]!), 1);
      ch = w(BACK_OUT[g]!);
    }
    size = skip.size;
    features[`back${g}`] = h;
  }
  const residual = b.conv(h, 'final', { inCh: ch, outCh: inChannels, kernel: 1, bias: false });
  const out = b.add([input, residual], 'output');
  const model = tfl.model({ inputs: input, outputs: out, name: arch });
  return new LayersNetwork({
    arch,
    options: { inChannels, widthScale, inputSize, ...(options['seed'] === undefined ? {} : { seed: options['seed'] }) },
    model,
    features,
  });
}
