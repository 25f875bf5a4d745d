/**
 * Build any model by name + options. The registry is the single place that knows which
 * architectures exist; weight files store `{arch, options}` and are rebuilt through here.
 *
 * | arch                | kind          | spec   |
 * |---------------------|---------------|--------|
 * | resnet18            | classifier    | §3.1   |
 * | small-cnn           | classifier    | (tests / CPU runs) |
 * | jatp-purifier, nrp  | pre-processor | §2.2, §4.3 |
 * | nrp-discriminator   | discriminator | §4.3   |
 * | apeg-generator      | pre-processor | §4.1   |
 * | apeg-discriminator  | discriminator | §4.1   |
 * | hgd                 | pre-processor | §4.2   |
 * | identity            | pre-processor | (no defense) |
 */
import type { Classifier, Network } from './types.js';
import { buildResnet18 } from './resnet18.js';
import { buildSmallCnn } from './small-cnn.js';
import { buildNrpPurifier, buildNrpDiscriminator } from './nrp.js';
import { buildApegGenerator, buildApegDiscriminator } from './apeg.js';
import { buildHgd } from './hgd.js';
import { buildIdentity } from './identity.js';

/** What an architecture is: a classifier, a pre-processor or a GAN discriminator. */
export type ArchKind = 'classifier' | 'preprocessor' | 'discriminator';

/** One registry architecture: name, kind, description and its options with defaults. */
export interface ArchInfo {
  readonly name: string;
  readonly kind: ArchKind;
  readonly description: string;
  /** Options the builder accepts, with their defaults (seed: unset = random initialisation). */
  readonly defaults: Readonly<Record<string, unknown>>;
  build(options: Record<string, unknown>): Network;
}

const ARCHS: readonly ArchInfo[] = [
  {
    name: 'resnet18',
    kind: 'classifier',
    description: 'CIFAR ResNet-18 (TRADES/MART layout), spec §3.1',
    defaults: { numClasses: 10, inChannels: 3, width: 64, inputSize: 32 },
    build: buildResnet18,
  },
  {
    name: 'small-cnn',
    kind: 'classifier',
    description: 'small 4-conv CNN for tests and CPU runs',
    defaults: { numClasses: 10, inChannels: 3, width: 16, inputSize: 32 },
    build: buildSmallCnn,
  },
  {
    name: 'jatp-purifier',
    kind: 'preprocessor',
    description: 'JATP pre-processor: NRP backbone with 3 RRDBs, spec §2.2',
    defaults: { inChannels: 3, nf: 64, gc: 32, nb: 3, inputSize: 32 },
    build: (o) => buildNrpPurifier('jatp-purifier', o),
  },
  {
    name: 'nrp',
    kind: 'preprocessor',
    description: 'NRP purifier baseline (same network, nb=3), spec §4.3',
    defaults: { inChannels: 3, nf: 64, gc: 32, nb: 3, inputSize: 32 },
    build: (o) => buildNrpPurifier('nrp', o),
  },
  {
    name: 'nrp-discriminator',
    kind: 'discriminator',
    description: 'NRP 32x32 VGG-style discriminator (logit), spec §4.3',
    defaults: { inChannels: 3, numFeat: 32, inputSize: 32 },
    build: buildNrpDiscriminator,
  },
  {
    name: 'apeg-generator',
    kind: 'preprocessor',
    description: 'APE-GAN generator (tanh output), spec §4.1',
    defaults: { inChannels: 3, inputSize: 32 },
    build: buildApegGenerator,
  },
  {
    name: 'apeg-discriminator',
    kind: 'discriminator',
    description: 'APE-GAN discriminator (sigmoid probability), spec §4.1',
    defaults: { inChannels: 3, inputSize: 32 },
    build: buildApegDiscriminator,
  },
  {
    name: 'hgd',
    kind: 'preprocessor',
    description: 'HGD denoiser (DUNET at 32x32, residual output), spec §4.2',
    defaults: { inChannels: 3, widthScale: 1, inputSize: 32 },
    build: buildHgd,
  },
  {
    name: 'identity',
    kind: 'preprocessor',
    description: 'no pre-processing (P(x) = x)',
    defaults: { inChannels: 3, inputSize: 32 },
    build: buildIdentity,
  },
];

/** Names of every registered architecture. */
export function listArchs(): readonly string[] {
  return ARCHS.map((a) => a.name);
}

/** The registry entry of `arch`, with an error listing the valid names. */
export function archInfo(arch: string): ArchInfo {
  const info = ARCHS.find((a) => a.name === arch);
  if (info === undefined) throw new Error(`unknown architecture '${arch}'; expected one of ${listArchs().join(', ')}`);
  return info;
}

/** Every registry entry (for `jatp models list`). */
export function listArchInfo(): readonly ArchInfo[] {
  return ARCHS;
}

/** Builds an architecture by name with options (defaults in `archInfo(arch).options`). Example: `buildNetwork('small-cnn', { inChannels: 1, inputSize: 28, width: 8 })`. */
export function buildNetwork(arch: string, options: Record<string, unknown> = {}): Network {
  return archInfo(arch).build(options);
}

/** `buildNetwork` for classifiers, checked. */
export function buildClassifier(arch: string, options: Record<string, unknown> = {}): Classifier {
  const info = archInfo(arch);
  if (info.kind !== 'classifier') throw new Error(`'${arch}' is a ${info.kind}, not a classifier`);
  return info.build(options) as Classifier;
}

/** Whether a network is a classifier (returns logits). */
export function isClassifier(net: Network): net is Classifier {
  return typeof (net as Partial<Classifier>).numClasses === 'number';
}
