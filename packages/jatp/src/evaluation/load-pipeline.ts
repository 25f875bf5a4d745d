/**
 * Turns what a user names on the command line into networks: a run folder of ours (train-target /
 * train-defense output), a weights file with its sidecar JSON (ours, or a PyTorch-imported
 * ResNet-18), or someone else's tfjs `model.json` (LayersModel or GraphModel) with a pixel range.
 */
import * as fs from 'node:fs';
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier, LogitsFn, Network } from '../models/types.js';
import { loadNetwork, resolveWeightsFile } from '../models/weights.js';
import { sidecarPath } from '../models/weights-core.js';
import { fullModel } from '../models/full-model.js';
import { archInfo, isClassifier } from '../models/architectures.js';
import { bpdaModel } from '../attacks/bpda.js';
import { clip01 } from '../attacks/ball-and-losses.js';
import { ensureGradients } from '../gradients.js';
import type { EvaluatedModel } from './evaluate.js';

/** sha256 of a file's bytes, 'sha256:<hex>'. */
export function fileDigest(file: string): string {
  return `sha256:${createHash('sha256').update(fs.readFileSync(file)).digest('hex')}`;
}

/** How a foreign model expects its input pixels. */
export type PixelRange = '0-1' | '0-255' | '-1-1';
/** The input ranges a foreign tfjs classifier may expect (`loadPipeline`'s `pixelRange`): '0-1', '0-255', '-1-1'. */
export const PIXEL_RANGES: readonly PixelRange[] = ['0-1', '0-255', '-1-1'];

/** An IOHandler reading a tfjs model.json and its weight shards from the local file system. */
export function fileModelHandler(modelJsonPath: string): tf.io.IOHandler {
  return {
    async load(): Promise<tf.io.ModelArtifacts> {
      const text = await fs.promises.readFile(modelJsonPath, 'utf8');
      let json: tf.io.ModelJSON;
      try {
        json = JSON.parse(text) as tf.io.ModelJSON;
      } catch (err) {
        throw new Error(`${modelJsonPath}: not valid JSON (${(err as Error).message})`);
      }
      if (!json.modelTopology || !Array.isArray(json.weightsManifest)) {
        throw new Error(`${modelJsonPath}: expected a tfjs model.json with "modelTopology" and "weightsManifest"`);
      }
      const dir = path.dirname(modelJsonPath);
      const weightSpecs: tf.io.WeightsManifestEntry[] = [];
      const buffers: Buffer[] = [];
      const shards: ShardBytes[] = [];
      for (const group of json.weightsManifest) {
        weightSpecs.push(...group.weights);
        for (const shard of group.paths) {
          const file = path.join(dir, shard);
          let bytes: Buffer;
          try {
            bytes = await fs.promises.readFile(file);
          } catch (err) {
            const e = err as NodeJS.ErrnoException;
            throw new Error(`${modelJsonPath}: weight shard '${shard}' ${e.code === 'ENOENT' ? 'is missing' : 'cannot be read'} (${file}${e.code === 'ENOENT' ? '' : `: ${e.message}`})`);
          }
          buffers.push(bytes);
          shards.push({ name: shard, bytes: bytes.length });
        }
      }
      checkWeightBytes(modelJsonPath, weightSpecs, shards);
      const all = Buffer.concat(buffers);
      const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
      return tf.io.getModelArtifactsForJSONSync(json, weightSpecs, weightData as ArrayBuffer);
    },
  };
}

/** A weight shard of a tfjs model and its size. */
interface ShardBytes {
  name: string;
  bytes: number;
}

const TFJS_DTYPE_BYTES: Readonly<Record<string, number>> = { float32: 4, int32: 4, bool: 1, complex64: 8, uint8: 1, uint16: 2, float16: 2 };

/**
 * Checks that the shards hold exactly the bytes the manifest's tensors take, in order, naming the
 * tensor that runs past the end (a short shard) or the surplus (an oversized or foreign shard);
 * tfjs itself would read garbage or fail without saying where.
 */
function checkWeightBytes(modelJsonPath: string, specs: readonly tf.io.WeightsManifestEntry[], shards: readonly ShardBytes[]): void {
  const sizeOf = (spec: tf.io.WeightsManifestEntry): number | undefined => {
    const per = TFJS_DTYPE_BYTES[spec.quantization?.dtype ?? spec.dtype];
    return per === undefined ? undefined : spec.shape.reduce((a, b) => a * b, 1) * per;
  };
  const sizes = specs.map(sizeOf);
  if (sizes.some((n) => n === undefined)) return; // string tensors: sizes are in the data itself
  const expected = sizes.reduce<number>((a, b) => a + b!, 0);
  const total = shards.reduce((a, s) => a + s.bytes, 0);
  const shardList = shards.map((s) => `${s.name} ${s.bytes} bytes`).join(', ');
  let pos = 0;
  for (const [i, spec] of specs.entries()) {
    const n = sizes[i]!;
    if (pos + n > total) {
      // The shard the tensor starts in (or the last one when it starts past them all).
      let shard = shards[shards.length - 1];
      let end = 0;
      for (const s of shards) {
        end += s.bytes;
        if (end > pos) {
          shard = s;
          break;
        }
      }
      throw new Error(
        `${modelJsonPath}: weight shard '${shard?.name ?? '(none)'}' is too short: tensor '${spec.name}' (${spec.dtype} [${spec.shape.join(', ')}], ${n} bytes) needs bytes ${pos}-${pos + n} of the weight data, but the shards hold ${total} bytes; expected ${expected} bytes (shards: ${shardList || 'none'})`,
      );
    }
    pos += n;
  }
  if (total > expected) {
    throw new Error(`${modelJsonPath}: the weight shards hold ${total} bytes but the manifest's ${specs.length} tensors take ${expected}; a shard is oversized or belongs to another model (shards: ${shardList})`);
  }
}

interface Predictor {
  predict(x: tf.Tensor): tf.Tensor | tf.Tensor[];
}

/**
 * Attacks need logits: a model whose last layer is a softmax squashes the loss surface (cross-entropy
 * of probabilities saturates, gradients vanish) and robust accuracy comes out too high. Said, not
 * refused: some users evaluate such models on purpose.
 */
function warnIfSoftmaxOutput(file: string, topology: unknown): void {
  const t = topology as { model_config?: { config?: { layers?: unknown } }; config?: { layers?: unknown } } | undefined;
  const layers = t?.model_config?.config?.layers ?? t?.config?.layers;
  const last = Array.isArray(layers) ? (layers[layers.length - 1] as { class_name?: string; config?: { activation?: string } }) : undefined;
  if (last?.class_name === 'Softmax' || last?.config?.activation === 'softmax') {
    process.stderr.write(`warning: --model ${file}: the last layer applies softmax; attacks need logits (on probabilities the loss saturates and gradients vanish, so robust accuracy is overstated). Export the model without its final softmax.\n`);
  }
}

/** Loads a user's tfjs model.json (LayersModel or GraphModel) as a differentiable LogitsFn on [0,1] images. */
export async function loadTfjsClassifier(modelJsonPath: string, range: PixelRange): Promise<LogitsFn> {
  ensureGradients(); // also loads the union package, which brings tfjs-layers and the converter
  const union = (await import('@tensorflow/tfjs')) as unknown as {
    loadLayersModel(h: tf.io.IOHandler): Promise<Predictor>;
    loadGraphModel(h: tf.io.IOHandler): Promise<Predictor>;
  };
  const json = JSON.parse(await fs.promises.readFile(modelJsonPath, 'utf8')) as { format?: string; userDefinedMetadata?: { pixelRange?: unknown }; modelTopology?: unknown };
  // Our own export records the range it takes; another range would feed it wrong pixels silently.
  const recorded = json.userDefinedMetadata?.pixelRange;
  if (typeof recorded === 'string' && recorded !== range) {
    throw new Error(`--pixel-range: ${modelJsonPath} records that it takes pixels in ${recorded} (a jatp export), not ${range}; drop --pixel-range or pass ${recorded}`);
  }
  warnIfSoftmaxOutput(modelJsonPath, json.modelTopology);
  const handler = fileModelHandler(modelJsonPath);
  const model = json.format === 'graph-model' ? await union.loadGraphModel(handler) : await union.loadLayersModel(handler);
  const scale = range === '0-255' ? 255 : range === '-1-1' ? 2 : 1;
  const offset = range === '-1-1' ? -1 : 0;
  return (x: tf.Tensor4D) =>
    tf.tidy(() => {
      const input = scale === 1 && offset === 0 ? x : tf.add(tf.mul(x, scale), offset);
      const out = model.predict(input);
      return (Array.isArray(out) ? out[0]! : out) as tf.Tensor2D;
    });
}

/** The "dataset" a weights file's sidecar records (train-target writes it), if any. */
function recordedDataset(weightsFile: string): string | undefined {
  try {
    const sidecar = JSON.parse(fs.readFileSync(sidecarPath(weightsFile), 'utf8')) as { dataset?: unknown };
    return typeof sidecar.dataset === 'string' ? sidecar.dataset : undefined;
  } catch {
    return undefined;
  }
}

/** A tfjs model.json (has "modelTopology"), as opposed to our weights sidecar (has "arch"). */
function isTfjsModelJson(file: string): boolean {
  if (!file.endsWith('.json') || !fs.existsSync(file) || !fs.statSync(file).isFile()) return false;
  try {
    return 'modelTopology' in (JSON.parse(fs.readFileSync(file, 'utf8')) as object);
  } catch (err) {
    throw new Error(`--model: '${file}' is not valid JSON (${(err as Error).message})`);
  }
}

/** A loaded evaluation pipeline: the classifier, the optional pre-processor and the full model built from them. */
export interface LoadedPipeline {
  readonly model: EvaluatedModel;
  readonly classifier?: Classifier;
  readonly preprocessor?: Network;
  readonly describe: { model: string; preprocessor?: string };
  /** The dataset the classifier was trained on, when its sidecar records it. */
  readonly trainedOn?: string;
  /** Architecture and sha256 of each network's file: what an evaluation state is keyed by. */
  readonly identity: Readonly<Record<string, string>>;
  dispose(): void;
}

/**
 * The full model to evaluate: `--model` (run folder / weights / model.json) and optionally
 * `--preprocessor` (run folder / weights). P's output is clamped to [0,1] (spec §2.8).
 */
export async function loadPipeline(opts: {
  model: string;
  preprocessor?: string;
  pixelRange?: PixelRange;
}): Promise<LoadedPipeline> {
  let preprocessor: Network | undefined;
  let preDescribe: string | undefined;
  const identity: Record<string, string> = {};
  if (opts.preprocessor) {
    const file = resolveWeightsFile(opts.preprocessor, '--preprocessor');
    preprocessor = await loadNetwork(file);
    const kind = archInfo(preprocessor.arch).kind;
    if (kind !== 'preprocessor') {
      preprocessor.dispose();
      throw new Error(`--preprocessor: '${file}' holds a ${kind} ('${preprocessor.arch}'), not a pre-processor (a classifier goes to --model)`);
    }
    preDescribe = `${preprocessor.arch} (${file})`;
    identity.preprocessor = `${preprocessor.arch} ${fileDigest(file)}`;
  }
  const preprocess = preprocessor
    ? (x: tf.Tensor4D) => tf.tidy(() => clip01(preprocessor!.apply(x, false) as tf.Tensor4D))
    : undefined;

  if (isTfjsModelJson(opts.model)) {
    const classifierLogits = await loadTfjsClassifier(opts.model, opts.pixelRange ?? '0-1');
    identity.model = `tfjs ${fileDigest(opts.model)} pixels ${opts.pixelRange ?? '0-1'}`;
    const logits: LogitsFn = preprocess ? (x) => tf.tidy(() => classifierLogits(preprocess(x))) : classifierLogits;
    return {
      model: { logits, bpdaLogits: preprocess ? bpdaModel(classifierLogits, (x) => preprocessor!.apply(x, false) as tf.Tensor4D) : logits, preprocess },
      preprocessor,
      describe: { model: `tfjs model ${opts.model} (pixels ${opts.pixelRange ?? '0-1'})`, preprocessor: preDescribe },
      identity,
      dispose: () => preprocessor?.dispose(),
    };
  }
  const file = resolveWeightsFile(opts.model, '--model');
  const net = await loadNetwork(file);
  if (!isClassifier(net)) {
    net.dispose();
    preprocessor?.dispose();
    throw new Error(`--model: '${file}' holds a '${net.arch}', not a classifier`);
  }
  identity.model = `${net.arch} ${fileDigest(file)}`;
  const trainedOn = recordedDataset(file);
  const exact = fullModel(net, preprocessor, { clamp: true });
  const bpda = fullModel(net, preprocessor, { clamp: true, bpda: true });
  return {
    model: { logits: exact.logits, bpdaLogits: bpda.logits, preprocess },
    classifier: net,
    preprocessor,
    describe: { model: `${net.arch} (${file})`, preprocessor: preDescribe },
    ...(trainedOn !== undefined ? { trainedOn } : {}),
    identity,
    dispose: () => {
      net.dispose();
      preprocessor?.dispose();
    },
  };
}
