/**
 * Export to the TensorFlow.js layers format: `model.json` (topology + weights manifest) and one
 * binary weight shard, the files `tf.loadLayersModel('https://.../model.json')` reads in a browser.
 * Every layer is a stock tfjs-layers class, so no custom code is needed on the browser side.
 *
 * `exportTfjsPipeline` writes the deployable defended model F(x) = T(clip01(P(x))) (spec §2.8) as a
 * single model: the pre-processor and classifier are nested sub-models, joined by a ReLU layer with
 * maxValue 1, which is exactly clip01. Input: NHWC float32 in [0, 1]; output: logits.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { LayersNetwork } from './layers-network.js';
import { buildNetwork } from './architectures.js';
import type { Classifier, Network, Preprocessor } from './types.js';
import { writeFileAtomic } from '../io/atomic-write.js';

export const TFJS_WEIGHTS_FILE = 'group1-shard1of1.bin';

function layersOf(net: Network): LayersNetwork {
  if (!(net instanceof LayersNetwork)) throw new Error(`${net.arch}: only registry networks can be exported to tfjs`);
  return net;
}

/**
 * Refuses to overwrite `<dir>/model.json` or the shard unless they are an earlier tfjs export of
 * ours: a run folder's `last/model.json` is the weights sidecar, and losing it breaks the run.
 */
async function checkExportTarget(dir: string): Promise<void> {
  const modelJson = path.join(dir, 'model.json');
  const text = await fs.readFile(modelJson, 'utf8').catch(() => undefined);
  if (text !== undefined) {
    let json: { convertedBy?: unknown; modelTopology?: unknown; format?: unknown } | undefined;
    try {
      json = JSON.parse(text) as typeof json;
    } catch {
      json = undefined;
    }
    if (json?.convertedBy === 'jatp' && json.modelTopology !== undefined) return; // an earlier export: replace it
    const sidecar = typeof json?.format === 'string' && json.format.startsWith('jatp-weights/');
    const what = sidecar ? 'the weights sidecar of a network (its run would no longer load)' : 'a file this export did not make';
    throw new Error(`${modelJson}: exists and is ${what}; export the tfjs model into another folder (--out)`);
  }
  const shard = path.join(dir, TFJS_WEIGHTS_FILE);
  if ((await fs.stat(shard).catch(() => undefined)) !== undefined) {
    throw new Error(`${shard}: exists without a tfjs model.json of ours beside it; export the tfjs model into another folder (--out)`);
  }
}

/** Saves a tfjs-layers model as `<dir>/model.json` + `<dir>/group1-shard1of1.bin` (each file atomic). */
export async function saveLayersModel(model: tfl.LayersModel, dir: string, userDefinedMetadata?: Record<string, unknown>): Promise<{ modelJson: string; bytes: number }> {
  await fs.mkdir(dir, { recursive: true });
  await checkExportTarget(dir);
  const modelJson = path.join(dir, 'model.json');
  let bytes = 0;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const data = artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
      bytes = data.byteLength;
      const json = {
        format: 'layers-model',
        generatedBy: `TensorFlow.js tfjs-layers v${tfl.version_layers}`,
        convertedBy: 'jatp',
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: [TFJS_WEIGHTS_FILE], weights: artifacts.weightSpecs ?? [] }],
        ...(userDefinedMetadata === undefined ? {} : { userDefinedMetadata }),
      };
      await writeFileAtomic(path.join(dir, TFJS_WEIGHTS_FILE), new Uint8Array(data));
      await writeFileAtomic(modelJson, JSON.stringify(json));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: bytes } };
    }),
  );
  return { modelJson, bytes };
}

/**
 * The input range of every exported model: our networks take pixels in [0, 1]. Recorded in
 * model.json's userDefinedMetadata so that `jatp eval --pixel-range` can refuse another range.
 */
export const EXPORT_PIXEL_RANGE = '0-1';

/** Exports one network (classifier or pre-processor) to `<dir>/model.json`. */
export async function exportTfjsModel(net: Network, dir: string): Promise<{ modelJson: string; bytes: number }> {
  const ln = layersOf(net);
  return saveLayersModel(ln.model, dir, { arch: net.arch, options: net.options, pixelRange: EXPORT_PIXEL_RANGE });
}

/**
 * Exports F(x) = T(clip01(P(x))) (or T(P(x)) with clamp false) as one browser-loadable model.
 * Weight names of P and T must not collide (they are keyed by layer name inside model.json).
 */
export async function exportTfjsPipeline(
  classifier: Classifier,
  preprocessor: Preprocessor | undefined,
  dir: string,
  opts: { clamp?: boolean } = {},
): Promise<{ modelJson: string; bytes: number }> {
  const t = layersOf(classifier);
  if (preprocessor === undefined) return exportTfjsModel(classifier, dir);
  const p = layersOf(preprocessor);
  const clamp = opts.clamp ?? true;
  const pNames = new Set(p.model.weights.map((w) => w.originalName));
  const clash = t.model.weights.map((w) => w.originalName).filter((n) => pNames.has(n));
  if (clash.length > 0) throw new Error(`cannot export ${p.arch} + ${t.arch} as one model: weight names collide (${clash.slice(0, 5).join(', ')})`);
  if (p.model.name === t.model.name) throw new Error(`cannot export two sub-models both named '${p.model.name}'`);
  // Nest fresh copies, not the live networks: nesting raises the sub-models' reference counts and
  // disposing the wrapper disposes whatever it nests, so the caller's networks are never touched.
  const pc = copyNetwork(p);
  const tc = copyNetwork(t);
  const shape = pc.model.inputs[0]!.shape.slice(1) as number[];
  const input = tfl.input({ shape, name: 'image' });
  let h = pc.model.apply(input) as tfl.SymbolicTensor;
  if (clamp) h = tfl.layers.reLU({ maxValue: 1, name: 'clip01' }).apply(h) as tfl.SymbolicTensor;
  const logits = tc.model.apply(h) as tfl.SymbolicTensor;
  const full = tfl.model({ inputs: input, outputs: logits, name: 'full_model' });
  try {
    return await saveLayersModel(full, dir, {
      classifier: { arch: classifier.arch, options: classifier.options },
      preprocessor: { arch: preprocessor.arch, options: preprocessor.options },
      clamp,
      pixelRange: EXPORT_PIXEL_RANGE,
    });
  } finally {
    full.dispose();
  }
}

/** A new network of the same architecture and options holding a copy of `net`'s weights. */
function copyNetwork(net: LayersNetwork): LayersNetwork {
  const copy = layersOf(buildNetwork(net.arch, { ...net.options }));
  const target = copy.namedWeights();
  for (const [name, v] of net.namedWeights()) target.get(name)!.assign(v);
  return copy;
}
