/**
 * AutoAttack's Square-after-gradient warning: fires on a constructed case where Square breaks points
 * the gradient stages left robust (more than 0.2 % of n), stays quiet at or below that, and is printed
 * by `jatp eval`'s report table for every run with AutoAttack stages.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SQUARE_WARN_FRACTION, squareAfterGradientCheck } from '../../src/evaluation/square-check.js';
import { formatReport, squareChecks, type EvalJson } from '../../src/evaluation/eval-json.js';
import type { EvaluationReport } from '../../src/index.js';
import { markdownTable } from '../../src/evaluation/comparison.js';

const stages = (afterGradient: number, afterSquare: number, n: number) => [
  { name: 'apgd-ce', robustAccuracy: (afterGradient + 3) / n },
  { name: 'apgd-t', robustAccuracy: afterGradient / n },
  { name: 'fab-t', robustAccuracy: afterGradient / n },
  { name: 'square', robustAccuracy: afterSquare / n },
];

test('warns above 0.2 % of n, quiet at or below it', () => {
  assert.equal(SQUARE_WARN_FRACTION, 0.002);
  // n = 1000: 2 flips (0.2 %) are not more than the threshold, 3 are.
  const quiet = squareAfterGradientCheck(stages(400, 398, 1000), 1000)!;
  assert.deepEqual([quiet.flipped, quiet.warn], [2, false]);
  const loud = squareAfterGradientCheck(stages(400, 397, 1000), 1000)!;
  assert.deepEqual([loud.before, loud.after, loud.flipped, loud.warn], [400, 397, 3, true]);
  assert.match(loud.message, /Square broke 3 of the 400 points/);
  // n = 200: one flip is 0.5 % and warns; none is quiet.
  assert.equal(squareAfterGradientCheck(stages(90, 89, 200), 200)!.warn, true);
  assert.equal(squareAfterGradientCheck(stages(90, 90, 200), 200)!.warn, false);
  // No Square stage, or Square first: nothing to judge.
  assert.equal(squareAfterGradientCheck([{ name: 'apgd-ce', robustAccuracy: 0.5 }], 200), undefined);
  assert.equal(squareAfterGradientCheck([{ name: 'square', robustAccuracy: 0.5 }], 200), undefined);
  assert.equal(squareAfterGradientCheck(undefined, 200), undefined);
});

test("jatp eval's report table carries the warning for an AutoAttack run, and nothing without one", () => {
  const n = 200;
  const report = (withStages: boolean, afterSquare: number): EvaluationReport => ({
    n,
    eps: 0.1,
    norm: 'Linf',
    cleanAccuracy: 0.7,
    clean: [],
    labels: [],
    attacks: [{ attack: withStages ? 'aa' : 'pgd40', bpda: false, robustAccuracy: afterSquare / n, robust: [], ...(withStages ? { stages: stages(90, afterSquare, n) } : {}), meanL1AdvVsNatural: 1, seconds: 1 }],
    unionRobustAccuracy: afterSquare / n,
    randomized: false,
    decisionPasses: 1,
    eotDraws: 1,
    forwardPasses: 0,
  });
  const describe = { model: 'm', dataset: 'd' };
  assert.match(formatReport(report(true, 85), describe), /WARNING \(aa\): Square broke 5 of the 90 points/);
  assert.doesNotMatch(formatReport(report(true, 90), describe), /WARNING/);
  assert.match(formatReport(report(true, 90), describe), /aa check: Square broke 0 of the 90 points/);
  assert.deepEqual(squareChecks(report(false, 90)), []);
  assert.doesNotMatch(formatReport(report(false, 90), describe), /Square/);
});

test("jatp report's table of eval JSONs repeats the warning for a row whose AutoAttack stages trip it", () => {
  const row = (label: string, afterSquare: number) => ({
    label,
    // Only the fields the table reads.
    result: { model: 'm', n: 200, eps: 0.1, norm: 'Linf', dataset: 'fashion-mnist', cleanAccuracy: 0.7, attacks: [{ attack: 'aa', robustAccuracy: afterSquare / 200, meanL1AdvVsNatural: 1, stages: stages(90, afterSquare, 200) }] } as unknown as EvalJson,
  });
  const table = markdownTable([row('JATP', 90), row('HGD', 80)]);
  assert.match(table, /\*\*Warning\*\* \(HGD, aa\): Square broke 10 of the 90 points/);
  assert.doesNotMatch(table, /\(JATP, aa\)/);
});
