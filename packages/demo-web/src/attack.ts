/**
 * Runs one attack of the toolkit (PGD or APGD-CE, the same classes `jatp eval` uses) against one
 * pipeline of the page and measures what the page shows: predictions and probabilities on the
 * natural, adversarial and purified images, the L∞ / L1 size of the perturbation, and the wall time
 * per attack step.
 */
import * as tf from '@tensorflow/tfjs';
import { Pgd, Apgd } from 'jatp/attacks';
import type { Pipeline } from './models.js';

export type AttackName = 'pgd' | 'apgd-ce';

export interface AttackSettings {
  readonly attack: AttackName;
  readonly eps: number;
  readonly steps: number;
  /** PGD only; APGD chooses its own step size (starts at 2·eps, spec §5.3). */
  readonly stepSize: number;
  readonly seed: number;
}

export interface Prediction {
  readonly label: number;
  readonly probability: number;
  /** Softmax over all classes. */
  readonly probabilities: number[];
}

export interface PipelineResult {
  readonly pipeline: Pipeline['id'];
  readonly attackName: string;
  readonly natural: Prediction;
  readonly adversarial: Prediction;
  /** The attack's label: the true one for bundled images, the natural prediction for dropped ones. */
  readonly label: number;
  readonly success: boolean;
  readonly linf: number;
  readonly l1: number;
  /** L1 distance of the purified adversarial image to the natural image (defended pipeline only). */
  readonly l1PurifiedVsNatural?: number;
  readonly totalMs: number;
  readonly msPerStep: number;
  /** Images kept for display; the caller disposes them. */
  readonly xAdv: tf.Tensor4D;
  readonly purifiedNatural?: tf.Tensor4D;
  readonly purifiedAdversarial?: tf.Tensor4D;
}

export function makeAttack(s: AttackSettings): Pgd | Apgd {
  if (s.attack === 'pgd') return new Pgd({ eps: s.eps, steps: s.steps, stepSize: s.stepSize, loss: 'ce', randomStart: true });
  return new Apgd({ eps: s.eps, nIter: s.steps, nRestarts: 1, loss: 'ce' });
}

/** Softmax of the logits of a single image, read back. */
export async function predict(pipeline: Pipeline, x: tf.Tensor4D): Promise<Prediction> {
  const probs = tf.tidy(() => tf.softmax(pipeline.logits(x)));
  const probabilities = Array.from(await probs.data());
  probs.dispose();
  let label = 0;
  for (let i = 1; i < probabilities.length; i++) if (probabilities[i]! > probabilities[label]!) label = i;
  return { label, probability: probabilities[label]!, probabilities };
}

async function scalar(t: tf.Tensor): Promise<number> {
  const v = (await t.data())[0]!;
  t.dispose();
  return v;
}

/** Pipelines whose forward and backward pass already ran once on this backend. */
const warmed = new Set<Pipeline>();

/**
 * One untimed forward + input-gradient pass, so that the first attack's time per step does not
 * include webgl's one-off shader compilation.
 */
async function warmUp(pipeline: Pipeline, x: tf.Tensor4D): Promise<void> {
  if (warmed.has(pipeline)) return;
  const g = tf.tidy(() => tf.grad((xs: tf.Tensor) => tf.sum(pipeline.logits(xs as tf.Tensor4D)))(x));
  await g.data();
  g.dispose();
  warmed.add(pipeline);
}

export async function attackPipeline(pipeline: Pipeline, x: tf.Tensor4D, label: number, s: AttackSettings): Promise<PipelineResult> {
  await warmUp(pipeline, x);
  const natural = await predict(pipeline, x);
  const attack = makeAttack(s);
  const y = tf.tensor1d([label], 'int32');
  const start = performance.now();
  const { xAdv, success } = attack.run(pipeline.logits, x, y, { seed: s.seed });
  // Backends such as webgl queue work: the clock stops once the adversarial image is on the host.
  await xAdv.data();
  const totalMs = performance.now() - start;
  y.dispose();
  const adversarial = await predict(pipeline, xAdv);
  const linf = await scalar(tf.tidy(() => tf.max(tf.abs(tf.sub(xAdv, x)))));
  const l1 = await scalar(tf.tidy(() => tf.sum(tf.abs(tf.sub(xAdv, x)))));
  const result = {
    pipeline: pipeline.id,
    attackName: attack.name,
    natural,
    adversarial,
    label,
    success: success[0] ?? false,
    linf,
    l1,
    totalMs,
    msPerStep: totalMs / s.steps,
    xAdv,
  };
  if (!pipeline.purify) return result;
  const purify = pipeline.purify;
  const purifiedNatural = tf.tidy(() => purify(x));
  const purifiedAdversarial = tf.tidy(() => purify(xAdv));
  const l1PurifiedVsNatural = await scalar(tf.tidy(() => tf.sum(tf.abs(tf.sub(purifiedAdversarial, x)))));
  return { ...result, purifiedNatural, purifiedAdversarial, l1PurifiedVsNatural };
}

export function disposeResult(r: PipelineResult): void {
  tf.dispose([r.xAdv, ...(r.purifiedNatural ? [r.purifiedNatural] : []), ...(r.purifiedAdversarial ? [r.purifiedAdversarial] : [])]);
}
