/**
 * APE-GAN (Shen et al. 2017) generator and discriminator for 32x32 inputs, as in the APE-GAN
 * reference code (spec §4.1). LeakyReLU uses PyTorch's default slope 0.01.
 *
 * Generator (269,059 parameters): conv4x4 s2 p1 (inC->64) BN LReLU, conv4x4 s2 p1 (64->128) BN LReLU,
 * convT4x4 s2 p1 (128->64) BN LReLU, convT4x4 s2 p1 (64->inC) tanh. The output is in [-1, 1]; the
 * full model clamps it to [0, 1] before the classifier (spec §4.1 note, §2.8).
 * Discriminator (373,889 parameters): conv3x3 s2 p0 (inC->64) LReLU, conv3x3 s2 (64->128) BN LReLU,
 * conv3x3 s2 (128->256) BN LReLU, flatten, Linear(-> 1), sigmoid: a probability [N, 1].
 * 28x28 inputs work: generator 28-14-7-14-28; discriminator 28-13-6-2 (flatten 1024).
 * Options (defaults): inChannels 3, inputSize 32 (must be divisible by 4 for the generator), seed.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { LayersNetwork, TorchStyleBuilder, checkOptionKeys, intOption, optionalSeed } from './layers-network.js';

const SLOPE = 0.01;

export function buildApegGenerator(options: Record<string, unknown> = {}): LayersNetwork {
  const arch = 'apeg-generator';
  checkOptionKeys(arch, options, ['inChannels', 'inputSize', 'seed']);
  const inChannels = intOption(arch, options, 'inChannels', 3);
  const inputSize = intOption(arch, options, 'inputSize', 32, 4);
  if (inputSize % 4 !== 0) throw new Error(`${arch}: option 'inputSize' must be divisible by 4 (two stride-2 convs and two x2 transposed convs), got ${inputSize}`);
  const b = new TorchStyleBuilder(optionalSeed(arch, options));
  const input = tfl.input({ shape: [inputSize, inputSize, inChannels], name: 'input' });
  let h = b.conv(input, 'conv1.0', { inCh: inChannels, outCh: 64, kernel: 4, stride: 2, padding: 1, bias: true });
  h = b.lrelu(b.bn(h, 'conv1.1'), 'conv1.2', SLOPE);
  h = b.conv(h, 'conv2.0', { inCh: 64, outCh: 128, kernel: 4, stride: 2, padding: 1, bias: true });
  const bottleneck = b.lrelu(b.bn(h, 'conv2.1'), 'conv2.2', SLOPE);
  h = b.convTranspose4s2(bottleneck, 'deconv1.0', { outCh: 64, bias: true });
  h = b.lrelu(b.bn(h, 'deconv1.1'), 'deconv1.2', SLOPE);
  h = b.convTranspose4s2(h, 'deconv2.0', { outCh: inChannels, bias: true });
  const out = tfl.layers.activation({ activation: 'tanh', name: 'deconv2.1' }).apply(h) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: out, name: arch });
  return new LayersNetwork({
    arch,
    options: { inChannels, inputSize, ...(options['seed'] === undefined ? {} : { seed: options['seed'] }) },
    model,
    features: { bottleneck },
  });
}

export function buildApegDiscriminator(options: Record<string, unknown> = {}): LayersNetwork {
  const arch = 'apeg-discriminator';
  checkOptionKeys(arch, options, ['inChannels', 'inputSize', 'seed']);
  const inChannels = intOption(arch, options, 'inChannels', 3);
  const inputSize = intOption(arch, options, 'inputSize', 32, 15);
  const b = new TorchStyleBuilder(optionalSeed(arch, options));
  const down = (n: number): number => Math.floor((n - 3) / 2) + 1;
  const input = tfl.input({ shape: [inputSize, inputSize, inChannels], name: 'input' });
  let h = b.lrelu(b.conv(input, 'conv1.0', { inCh: inChannels, outCh: 64, kernel: 3, stride: 2, padding: 0, bias: true }), 'conv1.1', SLOPE);
  h = b.conv(h, 'conv2.0', { inCh: 64, outCh: 128, kernel: 3, stride: 2, padding: 0, bias: true });
  h = b.lrelu(b.bn(h, 'conv2.1'), 'conv2.2', SLOPE);
  h = b.conv(h, 'conv3.0', { inCh: 128, outCh: 256, kernel: 3, stride: 2, padding: 0, bias: true });
  const feat = b.lrelu(b.bn(h, 'conv3.1'), 'conv3.2', SLOPE);
  const s = down(down(down(inputSize)));
  const flat = tfl.layers.flatten({ name: 'flatten' }).apply(feat) as tfl.SymbolicTensor;
  h = b.dense(flat, 'fc.0', { inFeatures: 256 * s * s, units: 1 });
  const prob = tfl.layers.activation({ activation: 'sigmoid', name: 'fc.1' }).apply(h) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: prob, name: arch });
  return new LayersNetwork({
    arch,
    options: { inChannels, inputSize, ...(options['seed'] === undefined ? {} : { seed: options['seed'] }) },
    model,
    features: { features: feat },
  });
}
