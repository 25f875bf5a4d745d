/**
 * The one `Network` implementation behind every registry architecture: a tfjs-layers functional
 * model plus a table of named internal tensors.
 *
 * Why tfjs-layers (not raw tf ops): the same object trains here, saves to safetensors, and exports
 * to a `model.json` that `tf.loadLayersModel` reads in a browser without custom classes. Every layer
 * used is a stock, serialisable tfjs-layers class.
 *
 * Naming: layers carry PyTorch module paths ('layer1.0.conv1', 'layer1.0.shortcut.1', 'linear'), so
 * `namedWeights()` keys read like a PyTorch state dict ('conv1.weight', 'bn1.running_mean', ...).
 * Values keep the tfjs layouts (conv kernels HWIO, dense kernels [in, out]); models/pytorch.ts does
 * the OIHW / [out, in] transposes for real PyTorch files.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { Network } from './types.js';
import { installFusedBatchNorm } from './fused-batch-norm.js';

// Before any training step (and before SyncBatchNorm can layer itself on top, see that file).
installFusedBatchNorm();

type Initializer = ReturnType<typeof tfl.initializers.zeros>;

/** tfjs-layers weight short name -> PyTorch parameter/buffer suffix. */
const TORCH_SUFFIX: Readonly<Record<string, string>> = {
  kernel: 'weight',
  bias: 'bias',
  gamma: 'weight',
  beta: 'bias',
  moving_mean: 'running_mean',
  moving_variance: 'running_var',
};

export interface LayersNetworkInit {
  arch: string;
  options: Record<string, unknown>;
  model: tfl.LayersModel;
  /** Named internal tensors of `model`'s graph, in the order they should be listed. */
  features: Record<string, tfl.SymbolicTensor>;
  defaultFeature?: string;
}

export class LayersNetwork implements Network {
  readonly arch: string;
  readonly options: Readonly<Record<string, unknown>>;
  readonly model: tfl.LayersModel;
  readonly featureNames: readonly string[];
  readonly defaultFeature?: string;
  private readonly features: Record<string, tfl.SymbolicTensor>;
  /** Multi-output views of `model` (same layers, same variables), one per requested feature list. */
  private readonly featureModels = new Map<string, tfl.LayersModel>();
  private named?: Map<string, tf.Variable>;
  private disposed = false;

  constructor(init: LayersNetworkInit) {
    this.arch = init.arch;
    this.options = Object.freeze({ ...init.options });
    this.model = init.model;
    this.features = init.features;
    this.featureNames = Object.freeze(Object.keys(init.features));
    if (init.defaultFeature !== undefined) this.defaultFeature = init.defaultFeature;
  }

  apply(x: tf.Tensor4D, training: boolean): tf.Tensor {
    this.assertLive();
    this.assertInput(x);
    return this.model.apply(x, { training }) as tf.Tensor;
  }

  applyWithFeatures(
    x: tf.Tensor4D,
    featureNames: readonly string[],
    training: boolean,
  ): { output: tf.Tensor; features: Record<string, tf.Tensor> } {
    this.assertLive();
    const unknown = featureNames.filter((n) => !(n in this.features));
    if (unknown.length > 0) {
      throw new Error(
        `${this.arch}: unknown feature name(s) ${unknown.map((n) => `'${n}'`).join(', ')}; expected one of ${this.featureNames.join(', ')}`,
      );
    }
    if (featureNames.length === 0) return { output: this.apply(x, training), features: {} };
    this.assertInput(x);
    const key = featureNames.join('|');
    let view = this.featureModels.get(key);
    if (view === undefined) {
      view = tfl.model({
        inputs: this.model.inputs,
        outputs: [this.model.outputs[0]!, ...featureNames.map((n) => this.features[n]!)],
      });
      this.featureModels.set(key, view);
    }
    const outs = view.apply(x, { training }) as tf.Tensor[];
    const features: Record<string, tf.Tensor> = {};
    featureNames.forEach((n, i) => {
      features[n] = outs[i + 1]!;
    });
    return { output: outs[0]!, features };
  }

  trainableVariables(): tf.Variable[] {
    this.assertLive();
    return this.model.trainableWeights.map((w) => w.read() as tf.Variable);
  }

  namedWeights(): Map<string, tf.Variable> {
    this.assertLive();
    if (this.named === undefined) {
      const named = new Map<string, tf.Variable>();
      for (const layer of this.model.layers) {
        for (const w of layer.weights) {
          const short = w.originalName.split('/').pop()!;
          const suffix = TORCH_SUFFIX[short];
          if (suffix === undefined) throw new Error(`${this.arch}: layer '${layer.name}' has an unexpected weight '${w.originalName}'`);
          const name = `${layer.name}.${suffix}`;
          if (named.has(name)) throw new Error(`${this.arch}: duplicate weight name '${name}'`);
          named.set(name, w.read() as tf.Variable);
        }
      }
      this.named = named;
    }
    return this.named;
  }

  /** Trainable parameters only: batch-norm running statistics are state, not parameters (spec §5c). */
  countParams(): number {
    return this.model.trainableWeights.reduce((s, w) => s + (w.shape as number[]).reduce((a, b) => a * b, 1), 0);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    // The feature views share `model`'s layers and own no tensors; disposing them would dispose the
    // shared layers a second time, so only the main model is disposed.
    this.featureModels.clear();
    this.model.dispose();
  }

  /** Rejects inputs the graph was not built for, naming the expected NHWC shape and the options. */
  private assertInput(x: tf.Tensor): void {
    const want = this.model.inputs[0]!.shape;
    if (x.rank !== 4 || want.slice(1).some((d, i) => d !== null && d !== x.shape[i + 1])) {
      throw new Error(
        `${this.arch}: input of shape [${x.shape.join(', ')}] does not match the expected NHWC [N, ${want.slice(1).join(', ')}] ` +
          `(built with ${JSON.stringify(this.options)}; set inputSize / inChannels to match the data)`,
      );
    }
  }

  private assertLive(): void {
    if (this.disposed) throw new Error(`${this.arch}: network was disposed`);
  }
}

/**
 * Layer factory with PyTorch's default initialisation and padding semantics, so networks built here
 * start from the same distribution as the reference code and accept PyTorch weights unchanged.
 */
export class TorchStyleBuilder {
  private counter = 0;
  constructor(private readonly seed?: number) {}

  private nextSeed(): number | undefined {
    return this.seed === undefined ? undefined : this.seed + 7919 * ++this.counter;
  }

  /** PyTorch default (kaiming_uniform with a = sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
  private kernelInit(): Initializer {
    const seed = this.nextSeed();
    return tfl.initializers.varianceScaling({ scale: 1 / 3, mode: 'fanIn', distribution: 'uniform', ...(seed === undefined ? {} : { seed }) });
  }

  private biasInit(fanIn: number): Initializer {
    const bound = 1 / Math.sqrt(fanIn);
    const seed = this.nextSeed();
    return tfl.initializers.randomUniform({ minval: -bound, maxval: bound, ...(seed === undefined ? {} : { seed }) });
  }

  /**
   * PyTorch Conv2d(kernel, stride, padding). Symmetric zero padding is explicit (ZeroPadding2D +
   * 'valid') whenever tfjs 'same' would differ: 'same' pads asymmetrically for even totals, e.g.
   * stride 2 with kernel 3.
   */
  conv(
    x: tfl.SymbolicTensor,
    name: string,
    o: { inCh: number; outCh: number; kernel: number; stride?: number; padding?: number; bias: boolean },
  ): tfl.SymbolicTensor {
    const stride = o.stride ?? 1;
    const pad = o.padding ?? 0;
    let mode: 'same' | 'valid' = 'valid';
    let input = x;
    if (pad > 0) {
      if (stride === 1 && 2 * pad === o.kernel - 1) mode = 'same';
      else input = tfl.layers.zeroPadding2d({ padding: pad, name: `${name}.pad` }).apply(x) as tfl.SymbolicTensor;
    }
    return tfl.layers
      .conv2d({
        name,
        filters: o.outCh,
        kernelSize: o.kernel,
        strides: stride,
        padding: mode,
        useBias: o.bias,
        kernelInitializer: this.kernelInit(),
        ...(o.bias ? { biasInitializer: this.biasInit(o.inCh * o.kernel * o.kernel) } : {}),
      })
      .apply(input) as tfl.SymbolicTensor;
  }

  /**
   * PyTorch ConvTranspose2d(k=4, s=2, p=1): output 2x the input. tfjs 'same' with k=4, s=2 crops one
   * pixel on each side (symmetric), which is exactly PyTorch's padding=1.
   */
  convTranspose4s2(x: tfl.SymbolicTensor, name: string, o: { outCh: number; bias: boolean }): tfl.SymbolicTensor {
    return tfl.layers
      .conv2dTranspose({
        name,
        filters: o.outCh,
        kernelSize: 4,
        strides: 2,
        padding: 'same',
        useBias: o.bias,
        kernelInitializer: this.kernelInit(),
        // PyTorch computes ConvTranspose fan_in from weight dim 1 (= out channels) * k * k.
        ...(o.bias ? { biasInitializer: this.biasInit(o.outCh * 16) } : {}),
      })
      .apply(x) as tfl.SymbolicTensor;
  }

  /**
   * PyTorch BatchNorm2d defaults: eps 1e-5, momentum 0.1 (= keras momentum 0.9), affine.
   * `apply(x, {training: true})` normalises with batch statistics and updates the running ones
   * (tested). One known difference: tfjs-layers folds the biased batch variance into running_var,
   * PyTorch the unbiased one; the ratio n/(n-1), n = batch*H*W per channel, is below 1.001 for a
   * batch of 128 even at ResNet-18's 4x4 stage. Inference (running statistics) is identical.
   * Training mode runs as one fused kernel on the torch backend (models/fused-batch-norm.ts).
   */
  bn(x: tfl.SymbolicTensor, name: string): tfl.SymbolicTensor {
    return tfl.layers.batchNormalization({ name, axis: -1, momentum: 0.9, epsilon: 1e-5 }).apply(x) as tfl.SymbolicTensor;
  }

  dense(x: tfl.SymbolicTensor, name: string, o: { inFeatures: number; units: number }): tfl.SymbolicTensor {
    return tfl.layers
      .dense({ name, units: o.units, kernelInitializer: this.kernelInit(), biasInitializer: this.biasInit(o.inFeatures) })
      .apply(x) as tfl.SymbolicTensor;
  }

  relu(x: tfl.SymbolicTensor, name: string): tfl.SymbolicTensor {
    return tfl.layers.reLU({ name }).apply(x) as tfl.SymbolicTensor;
  }

  lrelu(x: tfl.SymbolicTensor, name: string, alpha: number): tfl.SymbolicTensor {
    return tfl.layers.leakyReLU({ name, alpha }).apply(x) as tfl.SymbolicTensor;
  }

  add(xs: tfl.SymbolicTensor[], name: string): tfl.SymbolicTensor {
    return tfl.layers.add({ name }).apply([...xs]) as tfl.SymbolicTensor;
  }

  concat(xs: tfl.SymbolicTensor[], name: string): tfl.SymbolicTensor {
    return tfl.layers.concatenate({ name, axis: -1 }).apply([...xs]) as tfl.SymbolicTensor;
  }

  scale(x: tfl.SymbolicTensor, name: string, factor: number): tfl.SymbolicTensor {
    return tfl.layers.rescaling({ name, scale: factor, offset: 0 }).apply(x) as tfl.SymbolicTensor;
  }
}

/** Reads an integer option, with its default, and rejects nonsense with the arch and option named. */
export function intOption(arch: string, options: Record<string, unknown>, key: string, dflt: number, min = 1): number {
  const v = options[key] ?? dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new Error(`${arch}: option '${key}' must be an integer >= ${min}, got ${JSON.stringify(options[key])}`);
  }
  return v;
}

export function optionalSeed(arch: string, options: Record<string, unknown>): number | undefined {
  const v = options['seed'];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new Error(`${arch}: option 'seed' must be an integer, got ${JSON.stringify(v)}`);
  return v;
}

/** Rejects option keys an architecture does not know, so typos do not silently fall back to defaults. */
export function checkOptionKeys(arch: string, options: Record<string, unknown>, allowed: readonly string[]): void {
  const bad = Object.keys(options).filter((k) => !allowed.includes(k));
  if (bad.length > 0) throw new Error(`${arch}: unknown option(s) ${bad.join(', ')}; expected ${allowed.join(', ')}`);
}
