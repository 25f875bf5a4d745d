/**
 * A small, fast CNN classifier for tests and CPU-scale runs (not in the paper). Same building
 * blocks and conventions as the ResNet-18 (conv without bias + BN + ReLU, explicit symmetric padding),
 * three stages at full, 1/2 and 1/4 resolution, then global average pooling and a linear head:
 *
 *   block1: conv3x3(inC -> w) BN ReLU                       HxW
 *   block2: conv3x3(w -> 2w, s2) BN ReLU, conv3x3(2w -> 2w) BN ReLU   H/2
 *   block3: conv3x3(2w -> 4w, s2) BN ReLU                   H/4
 *   pool -> linear(4w -> numClasses)
 *
 * Features: 'block1', 'block2', 'block3', 'pool'. 'block3' (the last conv stage, 4w x 8x8 at 32x32
 * input, like ResNet-18's layer3 in resolution) is the default JATP feature for this arch.
 *
 * Options (defaults): numClasses 10, inChannels 3, width 16, inputSize 32, seed (unset = random).
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { TorchStyleBuilder, checkOptionKeys, intOption, optionalSeed } from './layers-network.js';
import { LayersClassifier } from './resnet18.js';

export function buildSmallCnn(options: Record<string, unknown> = {}): LayersClassifier {
  const arch = 'small-cnn';
  checkOptionKeys(arch, options, ['numClasses', 'inChannels', 'width', 'inputSize', 'seed']);
  const numClasses = intOption(arch, options, 'numClasses', 10);
  const inChannels = intOption(arch, options, 'inChannels', 3);
  const width = intOption(arch, options, 'width', 16);
  const inputSize = intOption(arch, options, 'inputSize', 32, 4);
  const b = new TorchStyleBuilder(optionalSeed(arch, options));
  const input = tfl.input({ shape: [inputSize, inputSize, inChannels], name: 'input' });

  const cbr = (x: tfl.SymbolicTensor, name: string, inCh: number, outCh: number, stride: number): tfl.SymbolicTensor =>
    b.relu(b.bn(b.conv(x, `${name}.conv`, { inCh, outCh, kernel: 3, stride, padding: 1, bias: false }), `${name}.bn`), `${name}.relu`);

  const block1 = cbr(input, 'block1.0', inChannels, width, 1);
  let h = cbr(block1, 'block2.0', width, 2 * width, 2);
  const block2 = cbr(h, 'block2.1', 2 * width, 2 * width, 1);
  const block3 = cbr(block2, 'block3.0', 2 * width, 4 * width, 2);
  h = tfl.layers.globalAveragePooling2d({ name: 'pool' }).apply(block3) as tfl.SymbolicTensor;
  const logits = b.dense(h, 'linear', { inFeatures: 4 * width, units: numClasses });
  const model = tfl.model({ inputs: input, outputs: logits, name: arch });
  return new LayersClassifier(
    {
      arch,
      options: { numClasses, inChannels, width, inputSize, ...(options['seed'] === undefined ? {} : { seed: options['seed'] }) },
      model,
      features: { block1, block2, block3, pool: h },
      defaultFeature: 'block3',
    },
    numClasses,
  );
}
