/**
 * The "no defense" pre-processor, P(x) = x. Built as a one-layer tfjs model (Rescaling by 1) so it
 * goes through the same save / export paths as every other network; it returns a new tensor, so
 * callers may dispose the output without touching the input. No parameters.
 * Options (defaults): inChannels 3, inputSize 32.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { LayersNetwork, checkOptionKeys, intOption } from './layers-network.js';

export function buildIdentity(options: Record<string, unknown> = {}): LayersNetwork {
  const arch = 'identity';
  checkOptionKeys(arch, options, ['inChannels', 'inputSize', 'seed']);
  const inChannels = intOption(arch, options, 'inChannels', 3);
  const inputSize = intOption(arch, options, 'inputSize', 32);
  const input = tfl.input({ shape: [inputSize, inputSize, inChannels], name: 'input' });
  const out = tfl.layers.rescaling({ scale: 1, offset: 0, name: 'identity' }).apply(input) as tfl.SymbolicTensor;
  return new LayersNetwork({ arch, options: { inChannels, inputSize }, model: tfl.model({ inputs: input, outputs: out, name: arch }), features: {} });
}
