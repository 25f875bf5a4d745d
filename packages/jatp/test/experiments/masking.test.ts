/**
 * The report's gradient-masking section judged on eval results built to pass or trip each check:
 * BPDA beating the full gradient warns, an honest model passes, a missing attack says "not run",
 * and the union headline is the per-example worst case (lower than every single attack's accuracy).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EvalCell, TargetCell, DefenseCell } from '../../src/experiments/suite/cells.js';
import { maskingChecks, maskingTolerance, type MaskingEval } from '../../src/experiments/suite/masking.js';

const trades: TargetCell = { kind: 'target', recipe: 'trades', seed: 0 };
const jatp: DefenseCell = { kind: 'defense', method: 'jatp', ablation: 'none', target: trades, seed: 0 };

/** An eval cell and its result from per-example outcomes ('1' robust, '0' broken); clean all correct unless given; null: no pre-processor. */
function cell(attack: string, robust: string, defense: DefenseCell | null = jatp, clean = '1'.repeat(robust.length)): { cell: EvalCell; key: string; e: MaskingEval } {
  const r = [...robust].map((c) => c === '1');
  const key = `eval-${attack}-${defense ? defense.method : 'none'}`;
  const e: MaskingEval = {
    key,
    n: r.length,
    cleanAccuracy: [...clean].filter((c) => c === '1').length / r.length,
    wallSeconds: 1,
    clean: [...clean].map((c) => c === '1'),
    attacks: [{ attack, robustAccuracy: r.filter(Boolean).length / r.length, robust: r }],
  };
  return { cell: { kind: 'eval', target: trades, ...(defense ? { defense } : {}), attack: attack as EvalCell['attack'], seed: 0 }, key, e };
}

function judged(cells: ReturnType<typeof cell>[]) {
  const byKey = new Map(cells.map((c) => [c.key, c.e]));
  return maskingChecks(cells, (k) => byKey.get(k));
}

const N = 100;
const ones = (k: number) => '1'.repeat(k) + '0'.repeat(N - k);

test('BPDA stronger than the full gradient warns, with both numbers', () => {
  // PGD leaves 60 % robust, BPDA only 30 %: the gradient through P is masked.
  const [m] = judged([cell('PGD', ones(60)), cell('BPDA', ones(30))]);
  const c = m!.checks.find((k) => k.id === 'bpda-vs-full')!;
  assert.equal(c.status, 'warn');
  assert.deepEqual(c.numbers, { bpda: 0.3, pgd: 0.6, tolerance: maskingTolerance(N) });
  assert.match(c.detail, /BPDA 30\.0 %, full-gradient PGD 60\.0 %/);
  assert.deepEqual(c.cells, ['eval-BPDA-jatp', 'eval-PGD-jatp']);
});

test('an honest model passes; a difference within the tolerance is noise', () => {
  const [honest] = judged([cell('PGD', ones(30)), cell('BPDA', ones(60))]);
  assert.equal(honest!.checks.find((k) => k.id === 'bpda-vs-full')!.status, 'pass');
  // 1 point below PGD at n = 100: inside max(2 %, 2/n).
  const [close] = judged([cell('PGD', ones(40)), cell('BPDA', ones(39))]);
  assert.equal(close!.checks.find((k) => k.id === 'bpda-vs-full')!.status, 'pass');
  const [beyond] = judged([cell('PGD', ones(40)), cell('BPDA', ones(37))]);
  assert.equal(beyond!.checks.find((k) => k.id === 'bpda-vs-full')!.status, 'warn');
});

test('checks whose attacks were not run say so; no pre-processor has no BPDA check', () => {
  const [m] = judged([cell('PGD', ones(50)), cell('DLR', ones(40))]);
  const status = Object.fromEntries(m!.checks.map((c) => [c.id, c.status]));
  assert.deepEqual(status, { 'bpda-vs-full': 'not run', 'black-box-vs-white-box': 'not run', 'iterative-vs-single': 'not run', 'aa-square-after-gradient': 'not run' });
  assert.match(m!.checks.find((c) => c.id === 'bpda-vs-full')!.detail, /no BPDA/);
  const [none] = judged([cell('PGD', ones(50), null), cell('BPDA', ones(50), null)]);
  assert.equal(none!.model, 'None + TRADES');
  assert.match(none!.checks.find((c) => c.id === 'bpda-vs-full')!.detail, /no pre-processor/);
});

test('Square and single-step columns are judged when present', () => {
  const [m] = judged([cell('PGD', ones(50)), cell('DLR', ones(45)), cell('Square', ones(20)), cell('FGSM', ones(30))]);
  const sq = m!.checks.find((c) => c.id === 'black-box-vs-white-box')!;
  assert.equal(sq.status, 'warn');
  assert.deepEqual(sq.numbers, { square: 0.2, whiteBox: 0.45, tolerance: maskingTolerance(N) });
  // PGD (50 %) does worse than one step (30 %): iterative does not beat single-step.
  assert.equal(m!.checks.find((c) => c.id === 'iterative-vs-single')!.status, 'warn');
  const [ok] = judged([cell('PGD', ones(20)), cell('Square', ones(40)), cell('FGSM', ones(50))]);
  assert.deepEqual(ok!.checks.map((c) => c.status), ['not run', 'pass', 'pass', 'not run']);
});

test("AutoAttack's Square stage: warns when it breaks more than 0.2 % after the gradient stages, from the AA cell's stages", () => {
  const aa = (square: number) => {
    const c = cell('AA', ones(square));
    const stages = [
      { name: 'apgd-ce', robustAccuracy: 0.5 },
      { name: 'apgd-t', robustAccuracy: 0.45 },
      { name: 'fab-t', robustAccuracy: 0.45 },
      { name: 'square', robustAccuracy: square / N },
    ];
    return { ...c, e: { ...c.e, attacks: [{ ...c.e.attacks[0]!, stages }] } };
  };
  const [warned] = judged([aa(40)]);
  const w = warned!.checks.find((c) => c.id === 'aa-square-after-gradient')!;
  assert.equal(w.status, 'warn');
  assert.deepEqual(w.numbers, { before: 45, after: 40, flipped: 5, n: N });
  const [quiet] = judged([aa(45)]);
  assert.equal(quiet!.checks.find((c) => c.id === 'aa-square-after-gradient')!.status, 'pass');
});

test('the union headline is the per-example worst case over the attacks run, clean errors included', () => {
  // PGD breaks examples 0-1, BPDA breaks 2-3, example 4 is misclassified clean: 5 of 10 survive both.
  const clean = '1111011111';
  const [m] = judged([cell('PGD', '0011111111', jatp, clean), cell('BPDA', '1100111111', jatp, clean)]);
  assert.equal(m!.unionRobustAccuracy, 0.5);
  assert.deepEqual(m!.unionAttacks, ['PGD', 'BPDA']);
  assert.equal(m!.n, 10);
  // Two full models (JATP and None) stay apart.
  const two = judged([cell('PGD', ones(50)), cell('PGD', ones(10), null)]);
  assert.deepEqual(two.map((x) => [x.model, x.unionRobustAccuracy]), [['JATP + TRADES', 0.5], ['None + TRADES', 0.1]]);
});

test('a model with no finished evaluation has no headline and nothing judged', () => {
  const c = cell('PGD', ones(50));
  const [m] = maskingChecks([c], () => undefined);
  assert.equal(m!.unionRobustAccuracy, undefined);
  assert.ok(m!.checks.every((k) => k.status === 'not run'));
});
