/**
 * Per-image outcomes of an evaluation cell in the compact form kept with the committed results
 * (`results.json` → `outcomes`): which test images the full model classified correctly before and
 * after the attack, as base64 bitsets, and — for the Fig. 2(b) cells only — the per-image L1
 * distances. With them any paired comparison of the report can be re-tested from the committed files
 * alone, without the run folders.
 */
import type { EvalJson } from '../../evaluation/eval-json.js';

/** What the claim evaluator needs of one evaluation cell, in test-image order. */
export interface CellOutcomes {
  readonly n: number;
  readonly clean: readonly boolean[];
  /** Correct after the attack (a clean-misclassified image counts as not robust). */
  readonly robust: readonly boolean[];
  /** Per image, mean |x_adv − x| and |clip01(P(x_adv)) − x| on the 0–255 scale (with a pre-processor). */
  readonly l1Adv?: readonly number[];
  readonly l1Purified?: readonly number[];
}

/** The JSON form: bitsets as base64 (bit i of byte ⌊i/8⌋, least significant first). */
export interface StoredOutcomes {
  readonly n: number;
  readonly clean: string;
  readonly robust: string;
  readonly l1Adv?: number[];
  readonly l1Purified?: number[];
}

export function encodeBits(bits: readonly boolean[]): string {
  const bytes = new Uint8Array(Math.ceil(bits.length / 8));
  bits.forEach((b, i) => {
    if (b) bytes[i >> 3]! |= 1 << (i & 7);
  });
  return Buffer.from(bytes).toString('base64');
}

export function decodeBits(text: string, n: number): boolean[] {
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length !== Math.ceil(n / 8)) throw new Error(`outcomes: a bitset of ${n} images needs ${Math.ceil(n / 8)} bytes, got ${bytes.length}`);
  return Array.from({ length: n }, (_, i) => ((bytes[i >> 3]! >> (i & 7)) & 1) === 1);
}

/** A cell's eval.json; files written before per-image outcomes were kept may lack them (checked at run time). */
export type EvalWithOutcomes = EvalJson;

/** The outcomes of a finished cell, or undefined when its eval.json predates per-image outcomes. */
export function outcomesFromEval(e: EvalWithOutcomes): CellOutcomes | undefined {
  const a = e.attacks[0];
  if (!a?.robust || !e.clean || a.robust.length !== e.n || e.clean.length !== e.n) return undefined;
  const l1 = a.l1AdvPerExample && a.l1PurifiedPerExample && a.l1AdvPerExample.length === e.n ? { l1Adv: a.l1AdvPerExample, l1Purified: a.l1PurifiedPerExample } : {};
  return { n: e.n, clean: e.clean, robust: a.robust, ...l1 };
}

const round3 = (v: number): number => Math.round(v * 1000) / 1000;

/** Compact form; the L1 arrays only when asked (they are the bulky part), rounded to 0.001 on the 0–255 scale. */
export function storeOutcomes(o: CellOutcomes, withL1: boolean): StoredOutcomes {
  return {
    n: o.n,
    clean: encodeBits(o.clean),
    robust: encodeBits(o.robust),
    ...(withL1 && o.l1Adv && o.l1Purified ? { l1Adv: o.l1Adv.map(round3), l1Purified: o.l1Purified.map(round3) } : {}),
  };
}

export function loadOutcomes(s: StoredOutcomes): CellOutcomes {
  return {
    n: s.n,
    clean: decodeBits(s.clean, s.n),
    robust: decodeBits(s.robust, s.n),
    ...(s.l1Adv && s.l1Purified ? { l1Adv: s.l1Adv, l1Purified: s.l1Purified } : {}),
  };
}
