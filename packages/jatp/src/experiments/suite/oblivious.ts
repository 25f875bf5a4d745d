/**
 * The OBL column: adversarial examples made against the target T alone (the attacker does not know
 * the pre-processor P), scored on T and on the full model F = T(clip01(P(·))) — the setting APE-G, HGD
 * and NRP were built for. A baseline whose F does not beat T here has not learnt its own job, and its
 * adaptive-attack numbers say nothing about pre-processing in general.
 *
 * The same cell measures P's distance from the identity: mean |clip01(P(x)) − x| on natural inputs and
 * on the oblivious adversarial ones, next to the attack's own mean |x_adv − x|. A P that moves an
 * adversarial input by a small fraction of what the attack moved it is close to doing nothing.
 *
 * Pure helpers (`pairedGain`, `identityRatio`) are what the validity record and the tests use.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Split } from '../../data/types.js';
import { toFloatBatch } from '../../data/pipeline.js';
import type { Attack } from '../../attacks/types.js';
import type { LogitsFn } from '../../models/types.js';

export interface ObliviousReport {
  readonly n: number;
  /** F's clean accuracy and per-example correctness (the fields every eval.json has). */
  readonly cleanAccuracy: number;
  readonly clean: boolean[];
  readonly labels: number[];
  /** attacks[0]: F on the oblivious examples (robust = clean and still correct), like any eval cell. */
  readonly attacks: {
    attack: string;
    bpda: false;
    robustAccuracy: number;
    robust: boolean[];
    meanL1AdvVsNatural: number;
    meanL1PurifiedVsNatural?: number;
    seconds: number;
  }[];
  readonly unionRobustAccuracy: number;
  readonly oblivious: {
    /** T alone on the natural inputs and on the same oblivious examples. */
    readonly targetCleanAccuracy: number;
    readonly targetClean: boolean[];
    readonly targetRobustAccuracy: number;
    readonly targetRobust: boolean[];
    /** Mean |x_adv − x| per element (0–1 scale). */
    readonly perturbation: number;
    /** Mean |clip01(P(x)) − x| on natural inputs (0–1 scale); 0 without P. */
    readonly identityNatural: number;
    /** Mean |clip01(P(x_adv)) − x_adv| on the oblivious examples (0–1 scale); 0 without P. */
    readonly identityAdversarial: number;
  };
}

function correct(logits: LogitsFn, x: tf.Tensor4D, y: tf.Tensor1D): boolean[] {
  const c = tf.tidy(() => tf.equal(tf.cast(tf.argMax(logits(x), 1), 'int32'), tf.cast(y, 'int32')));
  const v = Array.from(c.dataSync(), (b) => b === 1);
  c.dispose();
  return v;
}

function sumAbsDiff(a: tf.Tensor4D, b: tf.Tensor4D): number {
  const s = tf.tidy(() => tf.sum(tf.abs(tf.sub(a, b))));
  const v = s.dataSync()[0]!;
  s.dispose();
  return v;
}

/**
 * Makes `attack`'s examples against `target` on `split` (batch b uses seed `seed + b`) and scores them
 * on `target` and on `full`; `preprocess` is clip01(P(·)) (undefined: no pre-processor, F = T).
 */
export function evaluateOblivious(
  target: LogitsFn,
  full: LogitsFn,
  preprocess: ((x: tf.Tensor4D) => tf.Tensor4D) | undefined,
  split: Split,
  opts: { attack: Attack; attackName: string; batchSize: number; seed: number },
): ObliviousReport {
  const started = Date.now();
  const n = split.count;
  const clean: boolean[] = [];
  const robust: boolean[] = [];
  const targetClean: boolean[] = [];
  const targetRobust: boolean[] = [];
  let perturbation = 0;
  let idNatural = 0;
  let idAdversarial = 0;
  let l1Purified = 0;
  let elements = 0;
  for (let start = 0, b = 0; start < n; start += opts.batchSize, b++) {
    const indices = Array.from({ length: Math.min(opts.batchSize, n - start) }, (_, i) => start + i);
    const { x, y } = toFloatBatch(split, indices);
    const { xAdv } = opts.attack.run(target, x, y, opts.seed + b);
    const fClean = correct(full, x, y);
    const fAdv = correct(full, xAdv, y);
    const tClean = correct(target, x, y);
    const tAdv = correct(target, xAdv, y);
    indices.forEach((_, i) => {
      clean.push(fClean[i]!);
      robust.push(fClean[i]! && fAdv[i]!);
      targetClean.push(tClean[i]!);
      targetRobust.push(tClean[i]! && tAdv[i]!);
    });
    perturbation += sumAbsDiff(xAdv, x);
    if (preprocess) {
      const pNat = tf.tidy(() => preprocess(x));
      const pAdv = tf.tidy(() => preprocess(xAdv));
      idNatural += sumAbsDiff(pNat, x);
      idAdversarial += sumAbsDiff(pAdv, xAdv);
      l1Purified += sumAbsDiff(pAdv, x);
      tf.dispose([pNat, pAdv]);
    }
    elements += x.size;
    tf.dispose([x, y, xAdv]);
  }
  const frac = (v: boolean[]) => v.filter(Boolean).length / Math.max(1, n);
  const robustAccuracy = frac(robust);
  return {
    n,
    cleanAccuracy: frac(clean),
    clean,
    labels: Array.from(split.labels.subarray(0, n)),
    attacks: [
      {
        attack: opts.attackName,
        bpda: false,
        robustAccuracy,
        robust,
        meanL1AdvVsNatural: (255 * perturbation) / Math.max(1, elements),
        ...(preprocess ? { meanL1PurifiedVsNatural: (255 * l1Purified) / Math.max(1, elements) } : {}),
        seconds: (Date.now() - started) / 1000,
      },
    ],
    unionRobustAccuracy: robustAccuracy,
    oblivious: {
      targetCleanAccuracy: frac(targetClean),
      targetClean,
      targetRobustAccuracy: frac(targetRobust),
      targetRobust,
      perturbation: perturbation / Math.max(1, elements),
      identityNatural: idNatural / Math.max(1, elements),
      identityAdversarial: idAdversarial / Math.max(1, elements),
    },
  };
}

/** A paired difference of two per-example 0/1 outcomes on the same examples, with its 95 % interval. */
export interface PairedGain {
  /** Examples (pooled over the pairs given). */
  readonly n: number;
  /** mean(a − b), a fraction. */
  readonly gain: number;
  /** Normal-approximation 95 % interval of the mean difference (sample sd of the differences). */
  readonly lo: number;
  readonly hi: number;
  /** a right, b wrong / a wrong, b right (the discordant counts). */
  readonly aOnly: number;
  readonly bOnly: number;
}

/**
 * Paired gain of outcome `a` over `b` (e.g. F vs T on the same oblivious examples): with discordant
 * counts p = #(a and not b), q = #(b and not a), the mean difference is (p − q)/n, the differences'
 * sample variance ((p + q) − n·mean²)/(n − 1), and the interval mean ± 1.96·sd/√n.
 */
export function pairedGain(a: readonly boolean[], b: readonly boolean[]): PairedGain {
  if (a.length !== b.length) throw new Error(`pairedGain: ${a.length} vs ${b.length} outcomes; they must be on the same examples`);
  const n = a.length;
  let aOnly = 0;
  let bOnly = 0;
  for (let i = 0; i < n; i++) {
    if (a[i] && !b[i]) aOnly++;
    else if (b[i] && !a[i]) bOnly++;
  }
  const gain = n > 0 ? (aOnly - bOnly) / n : 0;
  const variance = n > 1 ? (aOnly + bOnly - n * gain * gain) / (n - 1) : 0;
  const half = n > 0 ? 1.96 * Math.sqrt(Math.max(0, variance) / n) : 0;
  return { n, gain, lo: gain - half, hi: gain + half, aOnly, bOnly };
}

/**
 * How far P moves an adversarial input, relative to how far the attack moved it:
 * mean|P(x_adv) − x_adv| / mean|x_adv − x| (0 = the identity; a P that restores x exactly gives 1
 * when the attack moved every element). Undefined when the attack moved nothing.
 */
export function identityRatio(identityAdversarial: number, perturbation: number): number | undefined {
  return perturbation > 0 ? identityAdversarial / perturbation : undefined;
}
