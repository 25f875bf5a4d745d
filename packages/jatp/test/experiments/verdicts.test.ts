/**
 * The claim evaluator on synthetic per-image outcomes built so that every verdict occurs: each paired
 * 2x2 table is chosen by hand, and the effect, p-value and Holm adjustment are checked against their
 * closed forms (p of b = 0 discordant pairs against c: 2·2^−c).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judgeClaims, statementVerdict, verdictMarkdown, type EntryCells } from '../../src/experiments/suite/verdicts.js';
import { allClaims, claimsFor, type Claim } from '../../src/experiments/suite/declarations/claims.js';
import { decodeBits, encodeBits, loadOutcomes, storeOutcomes, type CellOutcomes } from '../../src/experiments/suite/outcomes.js';

/** Two outcome vectors with the paired table (both right, only first, only second, neither). */
function pair(a: number, b: number, c: number, d: number): [boolean[], boolean[]] {
  const first = [...Array(a + b).fill(true), ...Array(c + d).fill(false)] as boolean[];
  const second = [...Array(a).fill(true), ...Array(b).fill(false), ...Array(c).fill(true), ...Array(d).fill(false)] as boolean[];
  return [first, second];
}

class World {
  readonly entries: EntryCells[] = [];
  readonly cells = new Map<string, CellOutcomes>();
  /** An entry of panel 't' with one cell per seed holding `robust`. */
  entry(row: string, column: string, perSeed: boolean[][], metric: EntryCells['metric'] = 'robust'): void {
    const cells = perSeed.map((robust, s) => {
      const key = `${row}-${column}-s${s}`;
      this.cells.set(key, { n: robust.length, clean: robust.map(() => true), robust });
      return key;
    });
    this.entries.push({ panel: 't', row, column, metric, cells });
  }
  read = (key: string) => this.cells.get(key);
}

const claim = (id: string, family: string, expect: Claim['expect'], a: string, b: string, column: string, margin?: number): Claim => ({
  id,
  family,
  statement: id,
  expect,
  ...(margin !== undefined ? { margin } : {}),
  a: { panel: 't', row: a, column },
  b: { panel: 't', row: b, column },
});

test('every verdict occurs, with the effect, interval and p-value of its table', () => {
  const w = new World();
  // Reproduced 'negative': B right on 30 images where A fails, never the reverse (n = 200).
  let [x, y] = pair(80, 0, 30, 90);
  w.entry('A', 'neg', [x]);
  w.entry('B', 'neg', [y]);
  // Contradicted 'positive': the same table, claimed the other way.
  w.entry('A', 'pos', [x]);
  w.entry('B', 'pos', [y]);
  // Undecided: 6 vs 4 discordant.
  [x, y] = pair(90, 6, 4, 100);
  w.entry('A', 'small', [x]);
  w.entry('B', 'small', [y]);
  // 'within' ±3 reproduced: n = 2000, 10 vs 12 discordant (|Δ| = 0.1 point, interval well inside ±3).
  [x, y] = pair(1000, 10, 12, 978);
  w.entry('A', 'close', [x]);
  w.entry('B', 'close', [y]);
  // 'within' contradicted: 25 points apart.
  [x, y] = pair(50, 0, 50, 100);
  w.entry('A', 'far', [x]);
  w.entry('B', 'far', [y]);
  // Two seeds, significant when pooled but the second seed points the other way.
  const s0 = pair(50, 0, 40, 110);
  const s1 = pair(50, 3, 1, 146);
  w.entry('A', 'seeds', [s0[0], s1[0]]);
  w.entry('B', 'seeds', [s0[1], s1[1]]);
  const claims: Claim[] = [
    claim('neg', 'F1', 'negative', 'A', 'B', 'neg'),
    claim('pos', 'F2', 'positive', 'A', 'B', 'pos'),
    claim('small', 'F3', 'positive', 'A', 'B', 'small'),
    claim('close', 'F4', 'within', 'A', 'B', 'close', 3),
    claim('far', 'F5', 'within', 'A', 'B', 'far', 3),
    claim('seeds', 'F6', 'negative', 'A', 'B', 'seeds'),
    claim('missing', 'F7', 'negative', 'A', 'Z', 'neg'),
  ];
  const r = Object.fromEntries(judgeClaims(claims, w.entries, w.read).map((x) => [x.claim.id, x]));
  assert.equal(r['neg']!.verdict, 'reproduced');
  assert.equal(r['neg']!.effect, (100 * (0 - 30)) / 200);
  assert.ok(Math.abs(r['neg']!.p! - 2 * 0.5 ** 30) < 1e-20);
  assert.ok(r['neg']!.interval!.lower < -15 && r['neg']!.interval!.upper < 0 && r['neg']!.interval!.upper > -15);
  assert.equal(r['pos']!.verdict, 'contradicted');
  assert.equal(r['small']!.verdict, 'undecided');
  // 6 vs 4: P(X ≤ 4 | 10) = 386/1024, two-sided 772/1024.
  assert.ok(Math.abs(r['small']!.p! - 772 / 1024) < 1e-12);
  assert.equal(r['close']!.verdict, 'reproduced');
  assert.ok(r['close']!.p! < 0.05 && r['close']!.interval!.lower > -3 && r['close']!.interval!.upper < 3);
  assert.equal(r['far']!.verdict, 'contradicted');
  assert.equal(r['far']!.effect, -25);
  assert.equal(r['seeds']!.verdict, 'undecided');
  assert.deepEqual(r['seeds']!.perSeed, [-20, 1]);
  assert.match(r['seeds']!.note!, /every seed/);
  // Pooled: 3 vs 41 discordant.
  assert.ok(r['seeds']!.p! < 1e-6 && r['seeds']!.seedTP !== undefined);
  assert.equal(r['missing']!.verdict, 'not judged');
  const md = verdictMarkdown(Object.values(r));
  for (const v of ['**reproduced**', '**contradicted**', 'undecided', 'not judged']) assert.ok(md.includes(v), v);
});

test('Holm within a family: two comparisons each at p = 0.031 are reproduced alone, not together', () => {
  // 0 vs 6 discordant: p = 2/64 = 0.03125.
  const w = new World();
  const [x, y] = pair(90, 0, 6, 104);
  for (const col of ['c1', 'c2']) {
    w.entry('A', col, [x]);
    w.entry('B', col, [y]);
  }
  const alone = judgeClaims([claim('1', 'F', 'negative', 'A', 'B', 'c1'), claim('2', 'G', 'negative', 'A', 'B', 'c2')], w.entries, w.read);
  assert.deepEqual(alone.map((r) => [r.pHolm!.toFixed(12), r.verdict]), [[(2 / 64).toFixed(12), 'reproduced'], [(2 / 64).toFixed(12), 'reproduced']]);
  const together = judgeClaims([claim('1', 'F', 'negative', 'A', 'B', 'c1'), claim('2', 'F', 'negative', 'A', 'B', 'c2')], w.entries, w.read);
  assert.deepEqual(together.map((r) => [r.pHolm!.toFixed(12), r.verdict]), [[(4 / 64).toFixed(12), 'undecided'], [(4 / 64).toFixed(12), 'undecided']]);
});

test('non-inferiority, a difference of drops and L1 distances', () => {
  const w = new World();
  // JATP′ 1 point below JATP at n = 4000 (interval well above −3): reproduced.
  let [x, y] = pair(2000, 20, 60, 1920);
  w.entry('J2', 'ni', [x]);
  w.entry('J', 'ni', [y]);
  // 10 points below: contradicted.
  [x, y] = pair(100, 0, 40, 260);
  w.entry('J2', 'bad', [x]);
  w.entry('J', 'bad', [y]);
  // Drop on X (20 images lost) larger than on T (none lost): (a − b) − (c − d) = +20/200 per image.
  const keepX = Array(200).fill(true) as boolean[];
  const lostX = keepX.map((_, i) => i >= 20);
  w.entry('full', 'X', [keepX]);
  w.entry('ablated', 'X', [lostX]);
  w.entry('full', 'T', [keepX]);
  w.entry('ablated', 'T', [keepX]);
  // L1: purified 2 units farther on every attacked image; image 0 was not attacked (distance 0) and is left out.
  const adv = Array.from({ length: 50 }, (_, i) => (i === 0 ? 0 : 5 + (i % 3)));
  const pur = adv.map((v) => v + 2);
  w.cells.set('l1cell', { n: 50, clean: adv.map(() => true), robust: adv.map(() => false), l1Adv: adv, l1Purified: pur });
  w.entries.push({ panel: 't', row: 'P', column: 'purified vs natural', metric: 'l1-purified', cells: ['l1cell'] });
  w.entries.push({ panel: 't', row: 'P', column: 'adversarial vs natural', metric: 'l1-adv', cells: ['l1cell'] });
  const drop: Claim = { id: 'drop', family: 'D', statement: 'drop', expect: 'positive', a: { panel: 't', row: 'full', column: 'X' }, b: { panel: 't', row: 'ablated', column: 'X' }, c: { panel: 't', row: 'full', column: 'T' }, d: { panel: 't', row: 'ablated', column: 'T' } };
  const l1: Claim = { id: 'l1', family: 'L', statement: 'l1', expect: 'positive', a: { panel: 't', row: 'P', column: 'purified vs natural' }, b: { panel: 't', row: 'P', column: 'adversarial vs natural' } };
  const r = Object.fromEntries(judgeClaims([claim('ni', 'N', 'not-below', 'J2', 'J', 'ni', 3), claim('bad', 'M', 'not-below', 'J2', 'J', 'bad', 3), drop, l1], w.entries, w.read).map((x) => [x.claim.id, x]));
  assert.equal(r['ni']!.verdict, 'reproduced');
  assert.equal(r['ni']!.effect, -1);
  assert.equal(r['bad']!.verdict, 'contradicted');
  assert.equal(r['drop']!.verdict, 'reproduced');
  assert.ok(Math.abs(r['drop']!.effect! - 10) < 1e-12);
  assert.ok(Math.abs(r['drop']!.p! - 2 * 0.5 ** 20) < 1e-18);
  assert.equal(r['l1']!.verdict, 'reproduced');
  assert.equal(r['l1']!.unit, 'L1');
  assert.ok(Math.abs(r['l1']!.effect! - 2) < 1e-12 && r['l1']!.images === 49);
});

test('the declared claims name entries of the declared panels; claimsFor keeps those of the panels present', () => {
  const all = allClaims();
  assert.equal(new Set(all.map((c) => c.id)).size, all.length, 'claim ids are unique');
  assert.ok(all.length > 150);
  const t1 = claimsFor(['table1']);
  assert.ok(t1.length === 15 + 15 + 5, `Table 1: ${t1.length}`);
  assert.ok(t1.every((c) => c.a.panel === 'table1'));
  assert.equal(claimsFor(['fig4b']).length, 12 + 3);
});

test('outcome bitsets round-trip', () => {
  const bits = Array.from({ length: 203 }, (_, i) => (i * 7) % 5 < 2);
  assert.deepEqual(decodeBits(encodeBits(bits), 203), bits);
  assert.throws(() => decodeBits(encodeBits(bits), 300), /needs 38 bytes/);
  const o: CellOutcomes = { n: 3, clean: [true, false, true], robust: [true, false, false], l1Adv: [1.23456, 0, 2], l1Purified: [3, 4, 5] };
  assert.deepEqual(loadOutcomes(JSON.parse(JSON.stringify(storeOutcomes(o, true)))), { ...o, l1Adv: [1.235, 0, 2] });
  assert.equal(storeOutcomes(o, false).l1Adv, undefined);
});

test('a statement is contradicted by any of its comparisons, reproduced only by all', () => {
  const c = (reproduced: number, contradicted: number, undecided: number, notJudged: number) => ({ reproduced, contradicted, undecided, 'not judged': notJudged });
  assert.equal(statementVerdict(c(15, 0, 0, 0)), 'reproduced');
  assert.equal(statementVerdict(c(14, 1, 0, 0)), 'contradicted (1 of 15)');
  assert.equal(statementVerdict(c(3, 0, 12, 0)), 'partly reproduced (3 of 15)');
  assert.equal(statementVerdict(c(0, 0, 5, 1)), 'undecided');
  assert.equal(statementVerdict(c(0, 0, 0, 15)), 'not judged');
});

test("validity marks of the compared rows' pre-processors appear beside the verdict", () => {
  const w = new World();
  const [x, y] = pair(80, 0, 30, 90);
  w.entry('A', 'neg', [x]);
  w.entry('B', 'neg', [y]);
  const [r] = judgeClaims([claim('neg', 'F', 'negative', 'A', 'B', 'neg')], w.entries, w.read, (row) => (row === 'A' ? ['near identity'] : []));
  assert.deepEqual(r!.marks, ['A: near identity']);
  assert.equal(r!.verdict, 'reproduced');
  assert.match(verdictMarkdown([r!]), /\*\*reproduced\*\* \(marked: A: near identity\)/);
  assert.equal(judgeClaims([claim('neg', 'F', 'negative', 'A', 'B', 'neg')], w.entries, w.read)[0]!.marks, undefined);
});

test('an experiment run in parts: a claim is judged on the seeds every entry has, and says which', () => {
  const w = new World();
  const s0 = pair(50, 0, 20, 130);
  const s1 = pair(60, 1, 15, 124);
  const s2 = pair(40, 0, 30, 130);
  w.entry('A', 'c', [s0[0], s1[0], s2[0]]);
  w.entry('B', 'c', [s0[1], s1[1], s2[1]]);
  w.cells.delete('B-c-s2'); // B's third seed is still running
  // A second claim whose entries have nothing on any seed stays not judged.
  w.entry('A', 'd', [s0[0], s1[0], s2[0]]);
  w.entry('B', 'd', [s0[1], s1[1], s2[1]]);
  for (const s of [0, 1, 2]) w.cells.delete(`B-d-s${s}`);
  const r = Object.fromEntries(judgeClaims([claim('c', 'F', 'negative', 'A', 'B', 'c'), claim('d', 'G', 'negative', 'A', 'B', 'd')], w.entries, w.read).map((x) => [x.claim.id, x]));
  assert.equal(r['c']!.verdict, 'reproduced');
  assert.equal(r['c']!.seeds, 2);
  assert.deepEqual(r['c']!.perSeed, [-10, -7]);
  // Pooled over the two seeds: 1 vs 35 discordant of 400 images.
  assert.equal(r['c']!.effect, (100 * (1 - 35)) / 400);
  assert.match(r['c']!.note!, /on 2 of 3 seeds \(0, 1\)/);
  assert.equal(r['d']!.verdict, 'not judged');
  assert.match(r['d']!.note!, /no per-image outcomes for B-d-s0/);
});
