/**
 * ResNet-18 for 32x32 inputs as in the TRADES / MART reference code (spec §3.1): conv3x3 stem,
 * four stages of two BasicBlocks (widths w, 2w, 4w, 8w; stride 2 at stages 2-4), 4x4 average pool,
 * linear head. Convs have no bias; BN is PyTorch's default. No input normalisation (inputs in [0, 1]).
 * With the defaults it has 11,173,962 parameters (spec §5c).
 *
 * Layer names follow the PyTorch module paths, so `namedWeights()` keys are the PyTorch state-dict
 * keys ('layer1.0.shortcut.1.running_mean', 'linear.weight', ...).
 *
 * Features (for `applyWithFeatures`):
 * - 'stem', 'layer1'..'layer4': stage outputs (after the residual add and ReLU).
 *   'layer3' is JATP's default feature (spec §2.3 option A, 256x8x8 at 32x32 input).
 * - 'layer3.1.conv2': raw output of the last conv of layer3 (before bn2, spec §2.3 option B).
 * - 'layer2.0.conv2': spec §2.3 option C.
 * - 'pool': the pooled 8w-vector fed to the linear head.
 *
 * Options (defaults): numClasses 10, inChannels 3, width 64, inputSize 32 (any size >= 8 works; for
 * 28x28 the stages are 28, 14, 7, 4), seed (unset = random init).
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { LayersNetwork, TorchStyleBuilder, checkOptionKeys, intOption, optionalSeed } from './layers-network.js';
import type { Classifier } from './types.js';

export const RESNET18_DEFAULTS = { numClasses: 10, inChannels: 3, width: 64, inputSize: 32 } as const;

export class LayersClassifier extends LayersNetwork implements Classifier {
  constructor(
    init: ConstructorParameters<typeof LayersNetwork>[0],
    readonly numClasses: number,
  ) {
    super(init);
  }
}

export function buildResnet18(options: Record<string, unknown> = {}): LayersClassifier {
  const arch = 'resnet18';
  checkOptionKeys(arch, options, ['numClasses', 'inChannels', 'width', 'inputSize', 'seed']);
  const numClasses = intOption(arch, options, 'numClasses', RESNET18_DEFAULTS.numClasses);
  const inChannels = intOption(arch, options, 'inChannels', RESNET18_DEFAULTS.inChannels);
  const width = intOption(arch, options, 'width', RESNET18_DEFAULTS.width);
  const inputSize = intOption(arch, options, 'inputSize', RESNET18_DEFAULTS.inputSize, 8);
  const b = new TorchStyleBuilder(optionalSeed(arch, options));

  const input = tfl.input({ shape: [inputSize, inputSize, inChannels], name: 'input' });
  const features: Record<string, tfl.SymbolicTensor> = {};

  let h = b.conv(input, 'conv1', { inCh: inChannels, outCh: width, kernel: 3, stride: 1, padding: 1, bias: false });
  h = b.relu(b.bn(h, 'bn1'), 'relu1');
  features['stem'] = h;

  let inPlanes = width;
  const stages: Array<[string, number, number]> = [
    ['layer1', width, 1],
    ['layer2', 2 * width, 2],
    ['layer3', 4 * width, 2],
    ['layer4', 8 * width, 2],
  ];
  for (const [stage, planes, stride] of stages) {
    for (let i = 0; i < 2; i++) {
      const p = `${stage}.${i}`;
      const s = i === 0 ? stride : 1;
      let r = b.conv(h, `${p}.conv1`, { inCh: inPlanes, outCh: planes, kernel: 3, stride: s, padding: 1, bias: false });
      r = b.relu(b.bn(r, `${p}.bn1`), `${p}.relu1`);
      r = b.conv(r, `${p}.conv2`, { inCh: planes, outCh: planes, kernel: 3, stride: 1, padding: 1, bias: false });
      features[`${p}.conv2`] = r;
      r = b.bn(r, `${p}.bn2`);
      let shortcut = h;
      if (s !== 1 || inPlanes !== planes) {
        shortcut = b.conv(h, `${p}.shortcut.0`, { inCh: inPlanes, outCh: planes, kernel: 1, stride: s, padding: 0, bias: false });
        shortcut = b.bn(shortcut, `${p}.shortcut.1`);
      }
      h = b.relu(b.add([r, shortcut], `${p}.add`), `${p}.relu2`);
      inPlanes = planes;
    }
    features[stage] = h;
  }
  // The reference uses avg_pool2d(out, 4) on a 4x4 map, i.e. a global average at 32x32 (and 28x28).
  const pooled = tfl.layers.globalAveragePooling2d({ name: 'pool' }).apply(h) as tfl.SymbolicTensor;
  features['pool'] = pooled;
  const logits = b.dense(pooled, 'linear', { inFeatures: 8 * width, units: numClasses });

  const model = tfl.model({ inputs: input, outputs: logits, name: arch });
  const keep = ['stem', 'layer1', 'layer2', 'layer3', 'layer4', 'layer3.1.conv2', 'layer2.0.conv2', 'pool'];
  const exposed: Record<string, tfl.SymbolicTensor> = {};
  for (const k of keep) exposed[k] = features[k]!;
  return new LayersClassifier(
    { arch, options: { numClasses, inChannels, width, inputSize, ...(options['seed'] === undefined ? {} : { seed: options['seed'] }) }, model, features: exposed, defaultFeature: 'layer3' },
    numClasses,
  );
}
