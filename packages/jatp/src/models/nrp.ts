/**
 * NRP purifier (Naseer et al., CVPR 2020) as used by JATP (spec §2.2) and the NRP baseline (spec §4.3),
 * and NRP's 32x32 VGG-style discriminator (spec §4.3).
 *
 * Purifier: conv_first (inC -> nf), nb residual-in-residual dense blocks (RRDB), trunk_conv
 * (nf -> inC). Every conv is 3x3, stride 1, padding 1, with bias; LeakyReLU slope 0.2; no BN.
 *   RDB(x)  = x + 0.2 * conv5(cat[x, x1..x4]),  x_k = lrelu(conv_k(cat[x, x1..x_{k-1}]))  (gc channels)
 *   RRDB(x) = x + 0.2 * RDB3(RDB2(RDB1(x)))
 * There is no global skip and the output is the image itself, unclamped (spec §2.2, A4).
 * nb = 3, nf = 64, gc = 32 gives 2,161,795 parameters (spec §5c).
 * Layer names follow the NRP repository ('conv_first', 'RRDB_trunk.0.RDB1.conv1', 'trunk_conv').
 * Features: 'conv_first', 'RRDB_trunk.<i>' (block outputs).
 * Options (defaults): inChannels 3, nf 64, gc 32, nb 3, inputSize 32, seed.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { LayersNetwork, TorchStyleBuilder, checkOptionKeys, intOption, optionalSeed } from './layers-network.js';

function seedOpt(options: Record<string, unknown>): Record<string, unknown> {
  return options['seed'] === undefined ? {} : { seed: options['seed'] };
}

export function buildNrpPurifier(arch: 'jatp-purifier' | 'nrp', options: Record<string, unknown> = {}): LayersNetwork {
  checkOptionKeys(arch, options, ['inChannels', 'nf', 'gc', 'nb', 'inputSize', 'seed']);
  const inChannels = intOption(arch, options, 'inChannels', 3);
  const nf = intOption(arch, options, 'nf', 64);
  const gc = intOption(arch, options, 'gc', 32);
  const nb = intOption(arch, options, 'nb', 3);
  const inputSize = intOption(arch, options, 'inputSize', 32);
  const b = new TorchStyleBuilder(optionalSeed(arch, options));
  const conv = (x: tfl.SymbolicTensor, name: string, inCh: number, outCh: number): tfl.SymbolicTensor =>
    b.conv(x, name, { inCh, outCh, kernel: 3, stride: 1, padding: 1, bias: true });

  const rdb = (x: tfl.SymbolicTensor, p: string): tfl.SymbolicTensor => {
    const parts = [x];
    for (let k = 1; k <= 4; k++) {
      const cat = parts.length === 1 ? x : b.concat(parts, `${p}.cat${k}`);
      parts.push(b.lrelu(conv(cat, `${p}.conv${k}`, nf + (k - 1) * gc, gc), `${p}.lrelu${k}`, 0.2));
    }
    const x5 = conv(b.concat(parts, `${p}.cat5`), `${p}.conv5`, nf + 4 * gc, nf);
    return b.add([x, b.scale(x5, `${p}.scale`, 0.2)], `${p}.add`);
  };

  const input = tfl.input({ shape: [inputSize, inputSize, inChannels], name: 'input' });
  const features: Record<string, tfl.SymbolicTensor> = {};
  let h = conv(input, 'conv_first', inChannels, nf);
  features['conv_first'] = h;
  for (let i = 0; i < nb; i++) {
    const p = `RRDB_trunk.${i}`;
    const r = rdb(rdb(rdb(h, `${p}.RDB1`), `${p}.RDB2`), `${p}.RDB3`);
    h = b.add([h, b.scale(r, `${p}.scale`, 0.2)], `${p}.add`);
    features[p] = h;
  }
  const out = conv(h, 'trunk_conv', nf, inChannels);
  const model = tfl.model({ inputs: input, outputs: out, name: arch });
  return new LayersNetwork({ arch, options: { inChannels, nf, gc, nb, inputSize, ...seedOpt(options) }, model, features });
}

/**
 * NRP discriminator for 32x32 (spec §4.3 table): conv3x3 (bias) + LReLU, then four stages of
 * [conv (no bias) + BN + LReLU] pairs (3x3 s1, 4x4 s2 p1), flatten, Linear(-> 100), LReLU,
 * Linear(-> 1). Returns one raw logit per image ([N, 1]); the relativistic GAN loss applies
 * BCE-with-logits. Options (defaults): inChannels 3, numFeat 32, inputSize 32, seed.
 */
export function buildNrpDiscriminator(options: Record<string, unknown> = {}): LayersNetwork {
  const arch = 'nrp-discriminator';
  checkOptionKeys(arch, options, ['inChannels', 'numFeat', 'inputSize', 'seed']);
  const inChannels = intOption(arch, options, 'inChannels', 3);
  const nfe = intOption(arch, options, 'numFeat', 32);
  const inputSize = intOption(arch, options, 'inputSize', 32, 16);
  const b = new TorchStyleBuilder(optionalSeed(arch, options));
  const input = tfl.input({ shape: [inputSize, inputSize, inChannels], name: 'input' });
  let h = b.lrelu(b.conv(input, 'conv0_0', { inCh: inChannels, outCh: nfe, kernel: 3, stride: 1, padding: 1, bias: true }), 'lrelu0_0', 0.2);
  let size = inputSize;
  const down = (n: number): number => Math.floor((n + 2 - 4) / 2) + 1;
  const cbl = (x: tfl.SymbolicTensor, name: string, bn: string, inCh: number, outCh: number, k: 3 | 4): tfl.SymbolicTensor =>
    b.lrelu(b.bn(b.conv(x, name, { inCh, outCh, kernel: k, stride: k === 4 ? 2 : 1, padding: 1, bias: false }), bn), `${name}.lrelu`, 0.2);
  h = cbl(h, 'conv0_1', 'bn0_1', nfe, nfe, 4);
  size = down(size);
  const widths: Array<[number, number]> = [[nfe, 2 * nfe], [2 * nfe, 4 * nfe], [4 * nfe, 4 * nfe]];
  widths.forEach(([cin, cout], i) => {
    const s = i + 1;
    h = cbl(h, `conv${s}_0`, `bn${s}_0`, cin, cout, 3);
    h = cbl(h, `conv${s}_1`, `bn${s}_1`, cout, cout, 4);
    size = down(size);
  });
  const feat = h;
  const flat = tfl.layers.flatten({ name: 'flatten' }).apply(h) as tfl.SymbolicTensor;
  const flatSize = size * size * 4 * nfe;
  h = b.lrelu(b.dense(flat, 'linear1', { inFeatures: flatSize, units: 100 }), 'lrelu_linear1', 0.2);
  const logit = b.dense(h, 'linear2', { inFeatures: 100, units: 1 });
  const model = tfl.model({ inputs: input, outputs: logit, name: arch });
  return new LayersNetwork({ arch, options: { inChannels, numFeat: nfe, inputSize, ...seedOpt(options) }, model, features: { features: feat } });
}
