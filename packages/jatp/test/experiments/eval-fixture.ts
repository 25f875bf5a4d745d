/**
 * A tiny on-disk evaluation setup for the CLI tests: a linear classifier on 8x8 grey images saved as
 * a tfjs LayersModel (model.json + weights.bin; a random small-cnn predicts one class for every
 * input, a linear model does not), and a Fashion-MNIST-shaped test split
 * written as t10k IDX files whose labels are the model's own clean predictions, so every example is
 * correct before the attack and every attack stage has work to do. The train IDX files are garbage
 * on purpose: `jatp eval` reads only the test split.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { hashFloat } from '../training/tiny.js';

export const SIDE = 8;

function idx(magic: number, dims: number[], body: Uint8Array): Uint8Array {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, body]);
}

export interface EvalFixture {
  readonly dir: string;
  readonly model: string;
  readonly dataDir: string;
}

export async function writeEvalFixture(dir: string, count: number): Promise<EvalFixture> {
  await tf.setBackend('cpu');
  fs.mkdirSync(dir, { recursive: true });
  const net = tfl.sequential({ layers: [tfl.layers.flatten({ inputShape: [SIDE, SIDE, 1] }), tfl.layers.dense({ units: 10 })] });
  const d = SIDE * SIDE;
  net.layers[1]!.setWeights([
    tf.tensor2d(Float32Array.from({ length: d * 10 }, (_, i) => 0.5 * hashFloat(i, 21)), [d, 10]),
    tf.tensor1d(Float32Array.from({ length: 10 }, (_, i) => 0.1 * hashFloat(i, 22))),
  ]);
  const model = path.join(dir, 'model.json');
  await net.save(
    tf.io.withSaveHandler(async (artifacts) => {
      fs.writeFileSync(path.join(dir, 'weights.bin'), Buffer.from(artifacts.weightData as ArrayBuffer));
      const json = { modelTopology: artifacts.modelTopology, format: 'layers-model', weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }] };
      fs.writeFileSync(model, JSON.stringify(json));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const pixels = Uint8Array.from({ length: count * SIDE * SIDE }, (_, i) => Math.floor((hashFloat(i, 11) + 1) * 127.5));
  const predicted = tf.tidy(() => tf.argMax(net.predict(tf.div(tf.tensor4d(pixels, [count, SIDE, SIDE, 1], 'float32'), 255)) as tf.Tensor, 1));
  const labels = Uint8Array.from(predicted.dataSync());
  predicted.dispose();
  net.dispose();
  const dataDir = path.join(dir, 'data');
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(path.join(dataDir, 't10k-images-idx3-ubyte'), idx(0x803, [count, SIDE, SIDE], pixels));
  fs.writeFileSync(path.join(dataDir, 't10k-labels-idx1-ubyte'), idx(0x801, [count], labels));
  fs.writeFileSync(path.join(dataDir, 'train-images-idx3-ubyte'), Buffer.from('not an IDX file'));
  fs.writeFileSync(path.join(dataDir, 'train-labels-idx1-ubyte'), Buffer.from('damaged'));
  return { dir, model, dataDir };
}

/** A report JSON without its wall-clock fields (the only thing two runs of one evaluation may differ in). */
export function withoutTimes(json: string): string {
  return JSON.stringify(JSON.parse(json), (k, v: unknown) => (k === 'seconds' ? undefined : v));
}
