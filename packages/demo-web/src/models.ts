/**
 * The pipelines the page compares, as differentiable x -> logits functions the toolkit's attacks
 * take: the classifier alone, T(x); T behind an obliviously-trained baseline pre-processor B
 * (APE-G / HGD), T(clip01(B(x))); and the defended full model F(x) = T(clip01(P(x))) (spec §2.8).
 * Attacking each end to end is the adaptive white-box setting the paper evaluates; the baseline row
 * is where the degradation effect can show (spec §4, §6.3), the defended row JATP's mitigation of it.
 */
import * as tf from '@tensorflow/tfjs';
import type { DemoConfig, DemoModelInfo } from './config.js';

/** In the order the page shows them; 'baseline' and 'defended' only when their model was given. */
export const PIPELINE_IDS = ['classifier', 'baseline', 'defended'] as const;
export type PipelineId = (typeof PIPELINE_IDS)[number];

export type LogitsFn = (x: tf.Tensor4D) => tf.Tensor2D;

export interface Pipeline {
  /** Short id used in the DOM and by the tests. */
  readonly id: PipelineId;
  readonly title: string;
  readonly logits: LogitsFn;
  /** clip01(P(x)) (or clip01(B(x))); undefined for the classifier alone. */
  readonly purify?: (x: tf.Tensor4D) => tf.Tensor4D;
}

export interface LoadedModels {
  readonly classifier: tf.LayersModel;
  readonly preprocessor?: tf.LayersModel;
  readonly baseline?: tf.LayersModel;
  readonly pipelines: readonly Pipeline[];
}

async function load(url: string, what: string): Promise<tf.LayersModel> {
  try {
    return await tf.loadLayersModel(new URL(url, document.baseURI).href);
  } catch (err) {
    throw new Error(`could not load the ${what} from ${url}: ${(err as Error).message}`);
  }
}

function checkInputShape(model: tf.LayersModel, what: string, shape: readonly number[]): void {
  const got = model.inputs[0]!.shape.slice(1);
  if (got.join('x') !== shape.join('x')) {
    throw new Error(`the ${what} takes ${got.join('x')} images, but the bundled images are ${shape.join('x')}`);
  }
}

/** clip01 of a pre-processor's output: the full model clips before the classifier (spec §2.8). */
function clipped(pre: tf.LayersModel): (x: tf.Tensor4D) => tf.Tensor4D {
  return (x) => tf.clipByValue(pre.predict(x) as tf.Tensor4D, 0, 1);
}

async function loadPreprocessor(info: DemoModelInfo, what: string, shape: DemoConfig['imageShape']): Promise<tf.LayersModel> {
  const model = await load(info.url, what);
  checkInputShape(model, what, shape);
  return model;
}

export async function loadModels(config: DemoConfig): Promise<LoadedModels> {
  const classifier = await load(config.classifier.url, 'classifier');
  checkInputShape(classifier, 'classifier', config.imageShape);
  // predict() runs layers in inference mode (batch-norm running statistics), as the toolkit's
  // Network.apply(x, false) does, and it is differentiable, so attacks can use it directly.
  const classify: LogitsFn = (x) => classifier.predict(x) as tf.Tensor2D;
  const pipelines: Pipeline[] = [{ id: 'classifier', title: 'Classifier alone: T(x)', logits: classify }];
  const baseline = config.baseline ? await loadPreprocessor(config.baseline, 'baseline pre-processor', config.imageShape) : undefined;
  if (baseline && config.baseline) {
    const purify = clipped(baseline);
    pipelines.push({
      id: 'baseline',
      title: `Behind the baseline (trained on oblivious examples): T(clip01(B(x))), B = ${config.baseline.arch}`,
      logits: (x) => classify(purify(x)),
      purify,
    });
  }
  const preprocessor = config.preprocessor ? await loadPreprocessor(config.preprocessor, 'pre-processor', config.imageShape) : undefined;
  if (preprocessor && config.preprocessor) {
    const purify = clipped(preprocessor);
    pipelines.push({
      id: 'defended',
      title: `With the pre-processor: T(clip01(P(x))), P = ${config.preprocessor.arch}`,
      logits: (x) => classify(purify(x)),
      purify,
    });
  }
  return { classifier, ...(preprocessor ? { preprocessor } : {}), ...(baseline ? { baseline } : {}), pipelines };
}
