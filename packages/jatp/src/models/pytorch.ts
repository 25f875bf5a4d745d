/**
 * PyTorch state dicts <-> our networks, through safetensors files (PyTorch's own .pt/.pth files are
 * pickles and are never loaded here; see `PYTORCH_TO_SAFETENSORS` for the conversion snippet).
 *
 * Our layer names already are the PyTorch module paths, so only layouts change:
 *   Conv2d weight           OIHW            <-> tfjs HWIO
 *   ConvTranspose2d weight  [in, out, H, W] <-> tfjs [H, W, out, in]
 *   Linear weight           [out, in]       <-> tfjs [in, out]
 *   BatchNorm weight/bias/running_mean/running_var: unchanged; `num_batches_tracked` is ignored on
 *   import and written as int64 0 on export (PyTorch's strict `load_state_dict` expects it).
 * A leading 'module.' (nn.DataParallel checkpoints) is stripped on import.
 *
 * Networks with a Flatten before a Linear layer (the discriminators) are refused: PyTorch flattens
 * CHW, tfjs HWC, so their first Linear weight would need a row permutation that is not implemented.
 */
import * as tf from '@tensorflow/tfjs-core';
import { buildResnet18 } from './resnet18.js';
import { LayersNetwork } from './layers-network.js';
import type { Classifier, Network } from './types.js';
import { asFloat32, readSafetensors, writeSafetensors, type SafeFile, type TensorToWrite } from '../io/safetensors.js';

/** Three lines of Python that turn a PyTorch checkpoint into a safetensors file we can import. */
export const PYTORCH_TO_SAFETENSORS = `import torch, json, struct
sd = {k: v.float().contiguous() for k, v in torch.load('model.pt', map_location='cpu').items() if not k.endswith('num_batches_tracked')}
h, o = {}, 0
for k, v in sd.items(): n = v.numel() * 4; h[k] = {'dtype': 'F32', 'shape': list(v.shape), 'data_offsets': [o, o + n]}; o += n
hb = json.dumps(h).encode(); open('model.safetensors', 'wb').write(struct.pack('<Q', len(hb)) + hb + b''.join(v.numpy().tobytes() for v in sd.values()))`;

type Kind = 'conv' | 'convT' | 'dense' | 'other';

function layerKinds(net: Network): Map<string, Kind> {
  if (!(net instanceof LayersNetwork)) throw new Error(`${net.arch}: PyTorch conversion needs a registry network`);
  if (net.model.layers.some((l) => l.getClassName() === 'Flatten')) {
    throw new Error(`${net.arch}: PyTorch conversion is not supported for networks that flatten feature maps (CHW vs HWC order)`);
  }
  const kinds = new Map<string, Kind>();
  for (const l of net.model.layers) {
    const c = l.getClassName();
    kinds.set(l.name, c === 'Conv2D' ? 'conv' : c === 'Conv2DTranspose' ? 'convT' : c === 'Dense' ? 'dense' : 'other');
  }
  return kinds;
}

/** Permutation taking our layout to PyTorch's for a weight of the given layer kind (undefined: unchanged). */
function toTorchPerm(kind: Kind, suffix: string, rank: number): number[] | undefined {
  if (suffix !== 'weight') return undefined;
  if ((kind === 'conv' || kind === 'convT') && rank === 4) return [3, 2, 0, 1];
  if (kind === 'dense' && rank === 2) return [1, 0];
  return undefined;
}

function invert(perm: number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => {
    inv[p] = i;
  });
  return inv;
}

function splitName(name: string): [string, string] {
  const i = name.lastIndexOf('.');
  return [name.slice(0, i), name.slice(i + 1)];
}

/** The network's weights as a PyTorch state dict (names and layouts), host arrays. */
export function toPytorchStateDict(net: Network): Map<string, TensorToWrite> {
  const kinds = layerKinds(net);
  const out = new Map<string, TensorToWrite>();
  const bnLayers = new Set<string>();
  for (const [name, v] of net.namedWeights()) {
    const [layer, suffix] = splitName(name);
    const perm = toTorchPerm(kinds.get(layer) ?? 'other', suffix, v.rank);
    if (perm === undefined) {
      out.set(name, { shape: v.shape, data: v.dataSync() as Float32Array });
    } else {
      const t = tf.transpose(v, perm);
      out.set(name, { shape: t.shape, data: t.dataSync() as Float32Array });
      t.dispose();
    }
    if (suffix === 'running_var') bnLayers.add(layer);
  }
  for (const layer of bnLayers) out.set(`${layer}.num_batches_tracked`, { shape: [], data: new BigInt64Array(1) });
  return out;
}

/**
 * Loads a PyTorch-named, PyTorch-layout state dict into `net`. Every weight must be present with
 * the PyTorch shape; unknown names are reported (num_batches_tracked excepted). Nothing is assigned
 * unless everything matches.
 */
export function assignPytorchStateDict(net: Network, file: SafeFile, source: string): void {
  const kinds = layerKinds(net);
  const tensors = stripModulePrefix(file.tensors);
  const expected = net.namedWeights();
  const missing: string[] = [];
  const badShape: string[] = [];
  const values = new Map<string, Float32Array>();
  const perms = new Map<string, number[] | undefined>();
  for (const [name, v] of expected) {
    const t = tensors.get(name);
    if (t === undefined) {
      missing.push(name);
      continue;
    }
    const [layer, suffix] = splitName(name);
    const perm = toTorchPerm(kinds.get(layer) ?? 'other', suffix, v.rank);
    const torchShape = perm === undefined ? v.shape : perm.map((p) => v.shape[p]!);
    if (t.shape.length !== torchShape.length || t.shape.some((d, i) => d !== torchShape[i])) {
      badShape.push(`${name}: file [${t.shape.join(', ')}] vs expected PyTorch shape [${torchShape.join(', ')}]`);
      continue;
    }
    values.set(name, asFloat32(t, name, source));
    perms.set(name, perm);
  }
  const extra = [...tensors.keys()].filter((n) => !expected.has(n) && !n.endsWith('.num_batches_tracked'));
  const problems: string[] = [];
  const list = (label: string, xs: string[]): void => {
    if (xs.length > 0) problems.push(`${xs.length} ${label}: ${xs.slice(0, 8).join('; ')}${xs.length > 8 ? '; ...' : ''}`);
  };
  list('missing from the file', missing);
  list('unexpected in the file', extra);
  list('with the wrong shape', badShape);
  if (problems.length > 0) {
    throw new Error(`${source}: PyTorch state dict does not match '${net.arch}' ${JSON.stringify(net.options)}: ${problems.join(' | ')}`);
  }
  for (const [name, v] of expected) {
    const perm = perms.get(name);
    const data = values.get(name)!;
    tf.tidy(() => {
      const torchShape = perm === undefined ? v.shape : perm.map((p) => v.shape[p]!);
      const t = tf.tensor(data, torchShape, 'float32');
      v.assign(perm === undefined ? t : tf.transpose(t, invert(perm)));
    });
  }
}

function stripModulePrefix<T>(tensors: Map<string, T>): Map<string, T> {
  const keys = [...tensors.keys()];
  if (keys.length === 0 || !keys.every((k) => k.startsWith('module.'))) return tensors;
  return new Map([...tensors].map(([k, v]) => [k.slice('module.'.length), v]));
}

/** ResNet-18 options implied by a PyTorch state dict's shapes (width, input channels, classes). */
export function inferResnet18Options(file: SafeFile, source: string): { width: number; inChannels: number; numClasses: number } {
  const t = stripModulePrefix(file.tensors);
  const conv1 = t.get('conv1.weight');
  const linear = t.get('linear.weight');
  if (conv1 === undefined || linear === undefined) {
    const names = [...t.keys()].slice(0, 5).join(', ');
    throw new Error(`${source}: not a TRADES/MART-style ResNet-18 state dict: needs 'conv1.weight' and 'linear.weight' (found ${names}${t.size > 5 ? ', ...' : ''})`);
  }
  if (conv1.shape.length !== 4 || linear.shape.length !== 2) {
    throw new Error(`${source}: conv1.weight must be 4-D OIHW and linear.weight 2-D [out, in]; got [${conv1.shape.join(', ')}] and [${linear.shape.join(', ')}]`);
  }
  return { width: conv1.shape[0]!, inChannels: conv1.shape[1]!, numClasses: linear.shape[0]! };
}

/**
 * Builds a ResNet-18 from a PyTorch-named safetensors checkpoint (TRADES/MART naming: 'conv1.weight',
 * 'layer1.0.bn1.running_mean', 'layer2.0.shortcut.0.weight', 'linear.weight', ...). Width, input
 * channels and classes are read from the shapes; `inputSize` (default 32) is the image side.
 */
export async function importPytorchResnet18(safetensorsPath: string, opts: { inputSize?: number } = {}): Promise<Classifier> {
  const file = await readSafetensors(safetensorsPath);
  const inferred = inferResnet18Options(file, safetensorsPath);
  const net = buildResnet18({ ...inferred, inputSize: opts.inputSize ?? 32 });
  try {
    assignPytorchStateDict(net, file, safetensorsPath);
  } catch (err) {
    net.dispose();
    throw err;
  }
  return net;
}

/** Writes a network as a PyTorch-named, PyTorch-layout safetensors state dict (atomic). */
export async function exportPytorch(net: Network, safetensorsPath: string): Promise<void> {
  await writeSafetensors(safetensorsPath, toPytorchStateDict(net), { arch: net.arch, options: JSON.stringify(net.options), layout: 'pytorch' });
}

/** `exportPytorch` restricted to ResNet-18, the architecture whose PyTorch naming is a published convention. */
export async function exportPytorchResnet18(net: Network, safetensorsPath: string): Promise<void> {
  if (net.arch !== 'resnet18') throw new Error(`exportPytorchResnet18: expected a resnet18, got '${net.arch}'`);
  await exportPytorch(net, safetensorsPath);
}
