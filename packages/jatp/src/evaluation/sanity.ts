/**
 * The sanity card: the checks that expose masked or obfuscated gradients (Athalye et al. 2018;
 * Carlini et al. 2019), each a pass or a warn with the numbers behind it, so a reader can tell
 * whether a robust accuracy is a property of the defense or of a broken attack.
 *
 *   more iterations      PGD with 2K steps (steps of 2.5 eps / steps) is not weaker than PGD with K steps
 *   iterative vs single  PGD-K is not weaker than a single full step (FGSM)
 *   black-box vs white   Square (queries only) is not stronger than the best gradient attack
 *   BPDA vs full         BPDA (identity backward through P) is not stronger than the full gradient
 *   eps sweep            robust accuracy never rises with eps, and is ~0 at a large eps
 *   input gradients      fraction of examples whose input gradient through P is all zero / non-finite
 *   AutoAttack's flags   randomized outputs, probabilities instead of logits, too few classes for
 *                        the 9-target stages
 *
 * The headline is the robust accuracy under the union of the attacks run here (worst case per
 * example). All attacks go through `evaluate`, so they are scored on the true full model.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Split } from '../data/types.js';
import { toFloatBatch } from '../data/pipeline.js';
import type { Attack } from '../attacks/types.js';
import type { AttackSpec } from '../attacks/attack-specs.js';
import { buildAttack, parseAttackSpec } from '../attacks/attack-specs.js';
import { pgd } from '../attacks/pgd.js';
import { square } from '../attacks/square.js';
import { type BallNorm, crossEntropyPerExample } from '../attacks/ball-and-losses.js';
import { batchRanges, evaluate, type EvaluatedModel } from './evaluate.js';
import { lineChartSvg } from './svg-charts.js';

/** A check's verdict. */
export type CheckStatus = 'pass' | 'warn' | 'skip';

/** One judged line of a sanity card: id, title, pass / warn / skip, a sentence and the numbers behind it. */
export interface SanityCheck {
  readonly id: string;
  readonly title: string;
  readonly status: CheckStatus;
  /** One sentence with the numbers. */
  readonly detail: string;
  readonly numbers: Readonly<Record<string, number>>;
}

/** One point of the sanity card's eps sweep: the radius and the PGD robust accuracy there. */
export interface SweepPoint {
  readonly eps: number;
  readonly robustAccuracy: number;
}

/** What `sanityCard` returns: clean and per-attack robust accuracy at eps, the eps sweep, input-gradient statistics and the judged checks. */
export interface SanityCard {
  readonly n: number;
  readonly eps: number;
  readonly norm: BallNorm;
  readonly cleanAccuracy: number;
  /** Robust accuracy per attack at `eps`. */
  readonly attacks: Readonly<Record<string, number>>;
  /** Worst case per example over all attacks at `eps`. */
  readonly unionRobustAccuracy: number;
  readonly sweep: readonly SweepPoint[];
  readonly gradients: { readonly zeroFraction: number; readonly nonFiniteFraction: number; readonly zeroElementFraction: number };
  readonly checks: readonly SanityCheck[];
}

/** Options of `sanityCard`: eps, norm, batch size, seed; PGD steps (default 20), Square queries (default 500), sweep multiples, tolerance. */
export interface SanityOptions {
  readonly eps: number;
  readonly norm: BallNorm;
  readonly batchSize: number;
  readonly seed: number;
  /** PGD steps K (the card also runs 2K and 1). Default 20. */
  readonly steps?: number;
  /** Square queries. Default 500. */
  readonly squareQueries?: number;
  /** Sweep radii as multiples of eps (a large absolute radius is added). Default [0.25, 0.5, 1, 2, 4]. */
  readonly sweepMultiples?: readonly number[];
  /** Accuracy differences up to this are noise, not a warning. Default max(0.02, 2/n). */
  readonly tolerance?: number;
  readonly onProgress?: (stage: string) => void;
}

/** Radius at which any honest model should be broken: half the pixel range (L∞), or a huge L2 ball. */
export function largeEps(norm: BallNorm): number {
  return norm === 'Linf' ? 0.5 : 20;
}

/** Per-example input gradients of the cross-entropy through the full model: zero / non-finite fractions. */
export function inputGradientStats(model: EvaluatedModel, split: Split, batchSize: number): SanityCard['gradients'] {
  let zero = 0;
  let nonFinite = 0;
  let zeroElements = 0;
  let elements = 0;
  for (const indices of batchRanges(split.count, batchSize)) {
    const { x, y } = toFloatBatch(split, indices);
    const g = tf.tidy(() => tf.grad((input: tf.Tensor) => tf.sum(crossEntropyPerExample(model.logits(input as tf.Tensor4D), y)))(x));
    const values = g.dataSync();
    const per = values.length / indices.length;
    for (let i = 0; i < indices.length; i++) {
      let allZero = true;
      let finite = true;
      for (let j = i * per; j < (i + 1) * per; j++) {
        const v = values[j]!;
        if (!Number.isFinite(v)) finite = false;
        if (v !== 0) allZero = false;
        else zeroElements++;
      }
      if (allZero) zero++;
      if (!finite) nonFinite++;
    }
    elements += values.length;
    tf.dispose([g, x, y]);
  }
  return { zeroFraction: zero / split.count, nonFiniteFraction: nonFinite / split.count, zeroElementFraction: zeroElements / Math.max(1, elements) };
}

/** AutoAttack-style checks on the model's outputs for one batch. */
export function outputFlags(model: EvaluatedModel, split: Split, batchSize: number): { randomized: boolean; probabilities: boolean; classes: number } {
  const { x, y } = toFloatBatch(split, batchRanges(split.count, batchSize)[0]!);
  const a = tf.tidy(() => model.logits(x));
  const b = tf.tidy(() => model.logits(x));
  const va = a.dataSync();
  const vb = b.dataSync();
  const classes = a.shape[1]!;
  let randomized = false;
  for (let i = 0; i < va.length && !randomized; i++) randomized = !Object.is(va[i], vb[i]);
  // Rows in [0, 1] summing to 1: the model returns probabilities, which saturate CE gradients.
  let probabilities = true;
  for (let r = 0; r < a.shape[0]! && probabilities; r++) {
    let sum = 0;
    for (let c = 0; c < classes; c++) {
      const v = va[r * classes + c]!;
      if (v < 0 || v > 1) probabilities = false;
      sum += v;
    }
    if (Math.abs(sum - 1) > 1e-3) probabilities = false;
  }
  tf.dispose([a, b, x, y]);
  return { randomized, probabilities, classes };
}

const pct = (v: number): string => `${(100 * v).toFixed(1)}%`;

export interface SanityMeasurements {
  readonly n: number;
  readonly single: number;
  readonly pgdK: number;
  readonly pgd2K: number;
  readonly steps: number;
  /** Undefined when Square cannot run (L2). */
  readonly square?: number;
  readonly bpda?: number;
  readonly sweep: readonly SweepPoint[];
  readonly gradients: SanityCard['gradients'];
  readonly flags: { randomized: boolean; probabilities: boolean; classes: number };
  readonly tolerance: number;
}

/** The checks from measured numbers (pure, so each rule can be tested on numbers built to trip it). */
export function judge(m: SanityMeasurements): SanityCheck[] {
  const t = m.tolerance;
  const checks: SanityCheck[] = [];
  const add = (id: string, title: string, ok: boolean | undefined, detail: string, numbers: Record<string, number>): void => {
    checks.push({ id, title, status: ok === undefined ? 'skip' : ok ? 'pass' : 'warn', detail, numbers });
  };
  add('more-iterations', 'more iterations never raise robust accuracy', m.pgd2K <= m.pgdK + t,
    `PGD-${m.steps} ${pct(m.pgdK)}, PGD-${2 * m.steps} ${pct(m.pgd2K)}`, { pgdK: m.pgdK, pgd2K: m.pgd2K });
  add('iterative-vs-single', 'iterative attacks beat single-step', m.pgdK <= m.single + t,
    `single step (FGSM) ${pct(m.single)}, PGD-${m.steps} ${pct(m.pgdK)}`, { single: m.single, pgdK: m.pgdK });
  const whiteBox = Math.min(m.single, m.pgdK, m.pgd2K);
  add('black-box-vs-white-box', 'black-box Square is not stronger than the white-box attacks', m.square === undefined ? undefined : m.square >= whiteBox - t,
    m.square === undefined ? 'Square is L∞ only' : `Square ${pct(m.square)}, best gradient attack ${pct(whiteBox)}`, m.square === undefined ? {} : { square: m.square, whiteBox });
  add('bpda-vs-full', 'BPDA is not stronger than the full gradient', m.bpda === undefined ? undefined : m.bpda >= m.pgdK - t,
    m.bpda === undefined ? 'no pre-processor: BPDA equals the full gradient' : `BPDA PGD-${m.steps} ${pct(m.bpda)}, full-gradient PGD-${m.steps} ${pct(m.pgdK)}`,
    m.bpda === undefined ? {} : { bpda: m.bpda, pgdK: m.pgdK });
  let rises = 0;
  for (let i = 1; i < m.sweep.length; i++) rises = Math.max(rises, m.sweep[i]!.robustAccuracy - m.sweep[i - 1]!.robustAccuracy);
  add('eps-sweep-monotone', 'robust accuracy falls monotonically along the eps sweep', rises <= t,
    `largest rise between neighbouring radii ${pct(rises)} (${m.sweep.map((p) => `${p.eps.toFixed(3)}: ${pct(p.robustAccuracy)}`).join(', ')})`, { largestRise: rises });
  const last = m.sweep[m.sweep.length - 1]!;
  add('eps-sweep-reaches-zero', 'robust accuracy reaches ~0 at a large eps', last.robustAccuracy <= Math.max(0.05, t),
    `at eps ${last.eps} robust accuracy is ${pct(last.robustAccuracy)}`, { eps: last.eps, robustAccuracy: last.robustAccuracy });
  const g = m.gradients;
  add('input-gradients', 'input gradients through P are non-zero and finite', g.zeroFraction <= 0.01 && g.nonFiniteFraction === 0,
    `${pct(g.zeroFraction)} of examples have an all-zero input gradient, ${pct(g.nonFiniteFraction)} a non-finite one (${pct(g.zeroElementFraction)} of all gradient entries are 0)`,
    { zeroFraction: g.zeroFraction, nonFiniteFraction: g.nonFiniteFraction, zeroElementFraction: g.zeroElementFraction });
  add('aa-randomized', 'AutoAttack flag: deterministic outputs', !m.flags.randomized,
    m.flags.randomized ? 'two forward passes on the same input differ: use --repeat k (and EOT in the attacks)' : 'two forward passes on the same input agree', {});
  add('aa-logits', 'AutoAttack flag: the model returns logits, not probabilities', !m.flags.probabilities,
    m.flags.probabilities ? 'outputs are in [0, 1] and sum to 1: cross-entropy on probabilities masks gradients; expose the logits' : 'outputs are not a probability vector', {});
  add('aa-classes', 'AutoAttack flag: enough classes for the 9-target stages', m.flags.classes >= 10,
    `${m.flags.classes} classes; APGD-T and FAB-T use ${Math.min(9, m.flags.classes - 1)} target classes`, { classes: m.flags.classes });
  return checks;
}

/** Runs the card's attacks on `split` and judges them. Deterministic given `options.seed`. */
export function sanityCard(model: EvaluatedModel, split: Split, options: SanityOptions & { readonly hasPreprocessor: boolean }): SanityCard {
  const steps = options.steps ?? 20;
  const queries = options.squareQueries ?? 500;
  const n = split.count;
  const tolerance = options.tolerance ?? Math.max(0.02, 2 / n);
  const specs: AttackSpec[] = [parseAttackSpec('pgd1'), parseAttackSpec(`pgd${steps}`), parseAttackSpec(`pgd${2 * steps}`)];
  if (options.norm === 'Linf') specs.push(parseAttackSpec(`square${queries}`));
  if (options.hasPreprocessor) specs.push(parseAttackSpec(`bpda${steps}`));
  // pgd1 is FGSM here: one step of the full radius from x itself. PGD-K (full gradient and BPDA)
  // takes steps of 2.5 eps / K (Madry et al.'s rule), so that every radius of the sweep is reachable.
  const build = (spec: AttackSpec, eps: number, norm: BallNorm): Attack => {
    if (spec.family === 'pgd' && spec.budget === 1) return pgd({ eps, norm, steps: 1, stepSize: eps, randomStart: false });
    if (spec.family === 'pgd' || spec.family === 'bpda') return pgd({ eps, norm, steps: spec.budget, stepSize: (2.5 * eps) / spec.budget! });
    if (spec.family === 'square') return square({ eps, nQueries: spec.budget });
    return buildAttack(spec, { eps, norm });
  };
  const common = { norm: options.norm, batchSize: options.batchSize, seed: options.seed, build };
  options.onProgress?.(`attacks at eps ${options.eps}: ${specs.map((s) => s.text).join(', ')}`);
  const main = evaluate(model, split, { ...common, eps: options.eps, attacks: specs });
  const acc = (text: string): number => main.attacks.find((a) => a.attack === text)!.robustAccuracy;
  const sweep: SweepPoint[] = [{ eps: 0, robustAccuracy: main.cleanAccuracy }];
  const radii = [...(options.sweepMultiples ?? [0.25, 0.5, 1, 2, 4]).map((k) => k * options.eps), largeEps(options.norm)]
    .filter((e, i, all) => e > 0 && all.indexOf(e) === i)
    .sort((a, b) => a - b);
  for (const eps of radii) {
    if (eps === options.eps) {
      sweep.push({ eps, robustAccuracy: acc(`pgd${steps}`) });
      continue;
    }
    options.onProgress?.(`eps sweep: PGD-${steps} at eps ${eps}`);
    const r = evaluate(model, split, { ...common, eps, attacks: [parseAttackSpec(`pgd${steps}`)] });
    sweep.push({ eps, robustAccuracy: r.attacks[0]!.robustAccuracy });
  }
  options.onProgress?.('input gradients and output flags');
  const gradients = inputGradientStats(model, split, options.batchSize);
  const flags = outputFlags(model, split, options.batchSize);
  const checks = judge({
    n,
    single: acc('pgd1'),
    pgdK: acc(`pgd${steps}`),
    pgd2K: acc(`pgd${2 * steps}`),
    steps,
    square: options.norm === 'Linf' ? acc(`square${queries}`) : undefined,
    bpda: options.hasPreprocessor ? acc(`bpda${steps}`) : undefined,
    sweep,
    gradients,
    flags,
    tolerance,
  });
  return {
    n,
    eps: options.eps,
    norm: options.norm,
    cleanAccuracy: main.cleanAccuracy,
    attacks: Object.fromEntries(main.attacks.map((a) => [a.attack === 'pgd1' ? 'fgsm' : a.attack, a.robustAccuracy])),
    unionRobustAccuracy: main.unionRobustAccuracy,
    sweep,
    gradients,
    checks,
  };
}

/** The card as Markdown (stdout and docs). */
export function formatSanityCard(card: SanityCard, title: string): string {
  const lines = [`### Sanity card: ${title}`, ''];
  lines.push(`n = ${card.n}, ${card.norm} eps = ${card.eps.toFixed(4)}; clean ${pct(card.cleanAccuracy)}; **robust accuracy under the union of attacks: ${pct(card.unionRobustAccuracy)}**`);
  lines.push('');
  lines.push(`Attacks: ${Object.entries(card.attacks).map(([k, v]) => `${k} ${pct(v)}`).join(', ')}`);
  lines.push('');
  lines.push('| check | result | numbers |', '|---|---|---|');
  for (const c of card.checks) lines.push(`| ${c.title} | ${c.status === 'warn' ? '**WARN**' : c.status} | ${c.detail} |`);
  return lines.join('\n');
}

/** Line plot of robust accuracy against eps, one line per labelled sweep. */
export function sweepSvg(series: readonly { label: string; sweep: readonly SweepPoint[] }[], title: string): string {
  return `${lineChartSvg({ title, series: series.map((s) => ({ label: s.label, xs: s.sweep.map((p) => p.eps), ys: s.sweep.map((p) => p.robustAccuracy) })), y: 'percent', xLabel: 'eps' })}\n`;
}
