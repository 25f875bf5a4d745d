/**
 * AutoAttack's own warning, for every evaluation that runs it: the score-based Square stage runs last,
 * on the points the gradient stages (APGD-CE, APGD-T, FAB-T) left robust. Every point Square then
 * breaks is an adversarial example the gradient attacks missed — a sign of masked or obfuscated
 * gradients, which makes the gradient-based numbers of the same model untrustworthy.
 *
 * Threshold: the reference implementation of AutoAttack warns when Square lowers the robust accuracy
 * by more than 0.2 % of the evaluated points; we use the same rule (flips > 0.002·n), so that below
 * 500 images a single point Square breaks warns. The flips are no sampling noise (the same images are
 * scored before and after Square); the threshold only says when the miss is large enough to report.
 */

/** Robust accuracy (fraction of all points) after each AutoAttack stage, in order. */
export interface StageResult {
  readonly name: string;
  readonly robustAccuracy: number;
}

/** Fraction of the evaluated points above which Square's extra successes are reported. */
export const SQUARE_WARN_FRACTION = 0.002;

/** The Square-after-gradient check of one AutoAttack run: counts before and after Square, and the verdict. */
export interface SquareCheck {
  /** Points robust after the gradient stages, and after Square. */
  readonly before: number;
  readonly after: number;
  /** Points Square broke that the gradient stages had left robust. */
  readonly flipped: number;
  readonly n: number;
  readonly warn: boolean;
  /** One sentence with the numbers. */
  readonly message: string;
}

/** The check for one AutoAttack run; undefined when it had no Square stage after a gradient stage. */
export function squareAfterGradientCheck(stages: readonly StageResult[] | undefined, n: number): SquareCheck | undefined {
  if (!stages || n <= 0) return undefined;
  const i = stages.findIndex((s) => s.name === 'square');
  if (i < 1) return undefined;
  const before = Math.round(stages[i - 1]!.robustAccuracy * n);
  const after = Math.round(stages[i]!.robustAccuracy * n);
  const flipped = before - after;
  const warn = flipped > SQUARE_WARN_FRACTION * n;
  const pct = (k: number) => `${((100 * k) / n).toFixed(1)} %`;
  const message = warn
    ? `Square broke ${flipped} of the ${before} points the gradient stages left robust (robust accuracy ${pct(before)} -> ${pct(after)}; more than ${(100 * SQUARE_WARN_FRACTION).toFixed(1)} % of ${n}): the gradient attacks miss adversarial examples on this model (masked gradients?); trust the AutoAttack number, not the gradient-only ones, and try an adaptive attack`
    : `Square broke ${flipped} of the ${before} points the gradient stages left robust (at most ${(100 * SQUARE_WARN_FRACTION).toFixed(1)} % of ${n})`;
  return { before, after, flipped, n, warn, message };
}
