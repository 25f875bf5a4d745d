/**
 * The paired statistics against closed forms and independent arithmetic: Wilson limits at 0/n and n/n
 * and as the roots of the score quadratic; binomial tails as exact rationals (BigInt); Newcombe's
 * published interval values; Holm by hand; Student-t CDFs with closed forms (1 and 2 degrees of freedom).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Z95,
  binomialCdf,
  exactMcNemar,
  holmAdjust,
  invertedOneSidedP,
  meanDifference,
  meanSd,
  newcombeInterval,
  normalCdf,
  pairedDifferenceInterval,
  pairedTable,
  phiCoefficient,
  signTest,
  stratifiedExactMcNemar,
  studentTCdf,
  studentTQuantile,
  wilsonInterval,
} from '../../src/evaluation/statistics.js';

const close = (a: number, b: number, tol: number, what: string) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

function choose(n: number, k: number): bigint {
  let r = 1n;
  for (let i = 1; i <= k; i++) r = (r * BigInt(n - k + i)) / BigInt(i);
  return r;
}

/** P(X ≤ k), X ~ Binomial(n, num/den), as an exact rational turned into a float at the end. */
function exactCdf(k: number, n: number, num: number, den: number): number {
  let s = 0n;
  for (let i = 0; i <= k; i++) s += choose(n, i) * BigInt(num) ** BigInt(i) * BigInt(den - num) ** BigInt(n - i);
  const total = BigInt(den) ** BigInt(n);
  // 10^18-scaled integer division: exact to 1e-18, far below the tolerances used here.
  return Number((s * 10n ** 18n) / total) / 1e18;
}

test('Wilson: 0/n and n/n closed forms, and the roots of (p̂ − π)² = z²π(1 − π)/n', () => {
  const z2 = Z95 * Z95;
  for (const n of [1, 7, 200, 1000]) {
    const zero = wilsonInterval(0, n);
    assert.equal(zero.lower, 0);
    close(zero.upper, z2 / (n + z2), 1e-15, `0/${n}`);
    const all = wilsonInterval(n, n);
    assert.equal(all.upper, 1);
    close(all.lower, n / (n + z2), 1e-15, `${n}/${n}`);
  }
  for (const [k, n] of [[1, 10], [38, 100], [97, 200], [500, 1000]] as const) {
    const p = k / n;
    // (1 + z²/n) π² − (2p + z²/n) π + p² = 0.
    const A = 1 + z2 / n;
    const B = -(2 * p + z2 / n);
    const C = p * p;
    const disc = Math.sqrt(B * B - 4 * A * C);
    const w = wilsonInterval(k, n);
    close(w.lower, (-B - disc) / (2 * A), 1e-12, `${k}/${n} lower`);
    close(w.upper, (-B + disc) / (2 * A), 1e-12, `${k}/${n} upper`);
  }
  assert.deepEqual(wilsonInterval(0, 0), { lower: 0, upper: 1 });
  assert.throws(() => wilsonInterval(3, 2), /0 <= k <= n/);
});

test('binomial tails equal exact rational sums', () => {
  for (const [k, n] of [[0, 1], [3, 10], [12, 40], [20, 40], [39, 40], [100, 250]] as const) {
    close(binomialCdf(k, n, 0.5), exactCdf(k, n, 1, 2), 1e-12, `Bin(${n}, 1/2) ≤ ${k}`);
    close(binomialCdf(k, n, 1 / 3), exactCdf(k, n, 1, 3), 1e-12, `Bin(${n}, 1/3) ≤ ${k}`);
  }
});

test('exact McNemar: hand-computed p-values and mid-p values', () => {
  // b = 1, c = 9: P(X ≤ 1) = (1 + 10)/1024; two-sided 22/1024; mid-p 2(11 − 5)/1024 = 12/1024.
  const r = exactMcNemar(1, 9);
  close(r.pValue, 22 / 1024, 1e-15, 'p');
  close(r.midP, 12 / 1024, 1e-15, 'mid-p');
  assert.deepEqual(exactMcNemar(9, 1).pValue, r.pValue, 'symmetric');
  // b = 0, c = 5: 2/32.
  close(exactMcNemar(0, 5).pValue, 2 / 32, 1e-15, '0 vs 5');
  assert.equal(exactMcNemar(0, 0).pValue, 1);
  assert.equal(exactMcNemar(4, 4).pValue, 1);
  // Larger counts against the exact rational tail.
  close(exactMcNemar(30, 52).pValue, 2 * exactCdf(30, 82, 1, 2), 1e-12, '30 vs 52');
  // Stratified over seeds = the pooled discordant counts.
  const strata = [{ a: 10, b: 1, c: 4, d: 5 }, { a: 9, b: 0, c: 3, d: 8 }, { a: 12, b: 0, c: 2, d: 6 }];
  close(stratifiedExactMcNemar(strata).pValue, 2 * exactCdf(1, 10, 1, 2), 1e-15, 'stratified');
});

test('paired table from outcomes', () => {
  assert.deepEqual(pairedTable([true, true, false, false, true], [true, false, true, false, false]), { a: 1, b: 2, c: 1, d: 1 });
  assert.throws(() => pairedTable([true], [true, false]), /different lengths/);
});

test("Newcombe's hybrid score interval: his published values (independent samples, method 10) and paired closed forms", () => {
  // Newcombe (1998), Statistics in Medicine 17:873, Table II, method 10 (4 decimals).
  const published: [number, number, number, number, number, number][] = [
    [56, 70, 48, 80, 0.0524, 0.3339],
    [9, 10, 3, 10, 0.1705, 0.809],
    [6, 7, 2, 7, 0.0582, 0.8062],
    [5, 56, 0, 29, -0.0381, 0.1926],
    [0, 10, 0, 20, -0.1611, 0.2775],
    [0, 10, 0, 10, -0.2775, 0.2775],
    [10, 10, 0, 20, 0.6791, 1],
    [10, 10, 0, 10, 0.6075, 1],
  ];
  for (const [k1, n1, k2, n2, lo, hi] of published) {
    const r = newcombeInterval(k1, n1, k2, n2);
    close(r.lower, lo, 5e-5, `${k1}/${n1} − ${k2}/${n2} lower`);
    close(r.upper, hi, 5e-5, `${k1}/${n1} − ${k2}/${n2} upper`);
  }
  // Paired, no discordant pairs, both cells filled: phi = 1, the limits are ±|2p − (l + u)| with
  // l + u = 2(k + z²/2)/(n + z²) (the Wilson centre).
  const t = { a: 30, b: 0, c: 0, d: 70 };
  assert.equal(phiCoefficient(t), 1);
  const z2 = Z95 * Z95;
  const half = Math.abs(2 * 0.3 - (2 * (30 + z2 / 2)) / (100 + z2));
  const r = pairedDifferenceInterval(t);
  close(r.lower, -half, 1e-12, 'phi = 1 lower');
  close(r.upper, half, 1e-12, 'phi = 1 upper');
  // An empty margin sets phi to 0: the paired interval equals the independent one.
  const e = { a: 0, b: 0, c: 3, d: 7 };
  assert.equal(phiCoefficient(e), 0);
  assert.deepEqual(pairedDifferenceInterval(e), newcombeInterval(0, 10, 3, 10));
  // phi by hand: (ad − bc)/√((a+b)(c+d)(a+c)(b+d)).
  close(phiCoefficient({ a: 36, b: 12, c: 2, d: 0 }), -24 / Math.sqrt(48 * 2 * 38 * 12), 1e-15, 'phi');
  // Large n: close to the Wald interval (b − c)/n ± z √((b + c)/n² − (b − c)²/n³).
  const big = { a: 794, b: 150, c: 86, d: 570 };
  const n = 1600;
  const wald = Z95 * Math.sqrt((150 + 86) / n ** 2 - (150 - 86) ** 2 / n ** 3);
  const rb = pairedDifferenceInterval(big);
  close(rb.estimate, 64 / n, 1e-15, 'estimate');
  close(rb.lower, 0.04 - wald, 2e-3, 'near Wald lower');
  close(rb.upper, 0.04 + wald, 2e-3, 'near Wald upper');
  assert.ok(rb.lower < 0.04 && rb.upper > 0.04);
});

test('Holm: step-down adjustment by hand, monotone, capped at 1', () => {
  // Sorted 0.01, 0.03, 0.04, 0.2 -> 4·0.01, max(0.04, 3·0.03), max(0.09, 2·0.04), max(0.09, 0.2).
  assert.deepEqual(holmAdjust([0.01, 0.04, 0.03, 0.2]).map((v) => +v.toFixed(12)), [0.04, 0.09, 0.09, 0.2]);
  assert.deepEqual(holmAdjust([0.5, 0.6]), [1, 1]);
  assert.deepEqual(holmAdjust([0.02]), [0.02]);
  assert.deepEqual(holmAdjust([]), []);
});

test('mean ± sample sd, Student t and normal CDFs against closed forms', () => {
  const m = meanSd([1, 2, 3, 4]);
  assert.equal(m.mean, 2.5);
  close(m.sd!, Math.sqrt(5 / 3), 1e-15, 'sd');
  assert.equal(meanSd([7]).sd, undefined);
  for (const t of [-3, -0.5, 0, 0.7, 2, 10]) {
    close(studentTCdf(t, 1), 0.5 + Math.atan(t) / Math.PI, 1e-12, `t1(${t})`);
    close(studentTCdf(t, 2), 0.5 + t / (2 * Math.sqrt(2 + t * t)), 1e-12, `t2(${t})`);
  }
  // df = 2: quantile t = α √(2/(1 − α²)), α = 2p − 1.
  close(studentTQuantile(0.975, 2), 0.95 * Math.sqrt(2 / (1 - 0.95 ** 2)), 1e-9, 't2 quantile');
  close(normalCdf(Z95), 0.975, 1e-15, 'Φ(1.96)');
  close(normalCdf(0), 0.5, 1e-16, 'Φ(0)');
  close(normalCdf(-5), 2.866515718791939e-7, 1e-20, 'Φ(−5)');
  close(normalCdf(-3.5) + normalCdf(3.5), 1, 1e-15, 'symmetry');
  // Per-seed differences 2, 4, 6: mean 4, sd 2, t = 4/(2/√3), df 2.
  const d = meanDifference([2, 4, 6]);
  const t = 4 / (2 / Math.sqrt(3));
  close(d.tPValue!, 1 - t / Math.sqrt(2 + t * t), 1e-12, 'paired t p (df 2)');
  const q = 0.95 * Math.sqrt(2 / (1 - 0.95 ** 2));
  close(d.interval!.lower, 4 - (q * 2) / Math.sqrt(3), 1e-8, 't interval');
});

test('sign test and interval inversion', () => {
  assert.deepEqual(signTest([1, -2, 0, 3, 4, 0.5]), exactMcNemar(4, 1));
  // Interval m ± z·s: the one-sided p for bound b is 1 − Φ((m − b)/s).
  const iv = (z: number) => ({ lower: 0.5 - z * 0.2, upper: 0.5 + z * 0.2 });
  close(invertedOneSidedP(iv, 0.1, 'lower'), 1 - normalCdf(2), 1e-9, 'lower side');
  close(invertedOneSidedP(iv, 0.8, 'upper'), 1 - normalCdf(1.5), 1e-9, 'upper side');
  assert.equal(invertedOneSidedP(iv, 0.6, 'lower'), 1);
});
