/**
 * The two pipelines the page compares, as differentiable x -> logits functions the toolkit's attacks
 * take: the classifier alone, T(x), and the defended full model F(x) = T(clip01(P(x))) (spec §2.8).
 * Attacking F end to end is the adaptive white-box setting the paper evaluates.
 */
import * as tf from '@tensorflow/tfjs';
import type { DemoConfig } from './config.js';

export type LogitsFn = (x: tf.Tensor4D) => tf.Tensor2D;

export interface Pipeline {
  /** Short id used in the DOM and by the tests: 'classifier' | 'defended'. */
  readonly id: 'classifier' | 'defended';
  readonly title: string;
  readonly logits: LogitsFn;
  /** clip01(P(x)) for the defended pipeline; undefined for the classifier alone. */
  readonly purify?: (x: tf.Tensor4D) => tf.Tensor4D;
}

export interface LoadedModels {
  readonly classifier: tf.LayersModel;
  readonly preprocessor?: tf.LayersModel;
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

export async function loadModels(config: DemoConfig): Promise<LoadedModels> {
  const classifier = await load(config.classifier.url, 'classifier');
  checkInputShape(classifier, 'classifier', config.imageShape);
  // predict() runs layers in inference mode (batch-norm running statistics), as the toolkit's
  // Network.apply(x, false) does, and it is differentiable, so attacks can use it directly.
  const classify: LogitsFn = (x) => classifier.predict(x) as tf.Tensor2D;
  const pipelines: Pipeline[] = [{ id: 'classifier', title: 'Classifier alone: T(x)', logits: classify }];
  let preprocessor: tf.LayersModel | undefined;
  if (config.preprocessor) {
    preprocessor = await load(config.preprocessor.url, 'pre-processor');
    checkInputShape(preprocessor, 'pre-processor', config.imageShape);
    const p = preprocessor;
    const purify = (x: tf.Tensor4D): tf.Tensor4D => tf.clipByValue(p.predict(x) as tf.Tensor4D, 0, 1);
    pipelines.push({
      id: 'defended',
      title: `With the pre-processor: T(clip01(P(x))), P = ${config.preprocessor.arch}`,
      logits: (x) => classify(purify(x)),
      purify,
    });
  }
  return { classifier, ...(preprocessor ? { preprocessor } : {}), pipelines };
}
