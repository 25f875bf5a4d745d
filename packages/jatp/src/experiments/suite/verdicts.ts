/**
 * Judges the paper's claims (declarations/claims.ts) from the per-image outcomes of the evaluation
 * cells: for each claim the effect pooled over seeds, its 95 % interval, the per-seed effects, the
 * p-value and its Holm adjustment within the claim's family, and a verdict.
 *
 * Rules (α = 0.05, fixed; the statistics are described in evaluation/statistics.ts):
 * - Accuracy / fooling-rate comparisons of two entries: exact McNemar on the discordant images of all
 *   seeds (stratified by seed), Newcombe's paired interval on the pooled 2x2 table.
 * - A difference of two drops (four entries) and the L1 distances: per-image differences pooled over
 *   seeds, exact sign test, t interval of their mean.
 * - 'positive' / 'negative': reproduced when the Holm-adjusted p < α, the pooled effect has the claimed
 *   sign and every seed's effect has it too; contradicted under the same conditions with the opposite
 *   sign; undecided otherwise.
 * - 'within' (|E| < δ): two one-sided tests against ±δ, p-values from inverting Newcombe's interval;
 *   reproduced when the Holm-adjusted TOST p < α and every seed lies within ±δ; contradicted when the
 *   Holm-adjusted p of "|E| > δ" < α and every seed lies beyond δ on the same side.
 * - 'not-below' (E > −δ): one-sided test against −δ the same way; contradicted when E < −δ is shown.
 * - not judged: a cell is missing on every seed, or its per-image outcomes were not kept. A claim whose
 *   entries all have some seeds finished but not all (an experiment run in parts) is judged on those
 *   seeds, with a note naming them.
 */
import { Z95, exactMcNemar, holmAdjust, invertedOneSidedP, meanDifference, meanSd, pairedDifferenceInterval, pairedTable, signTest, stratifiedExactMcNemar, type Interval, type PairedTable } from '../../evaluation/statistics.js';
import { claimsFor, type Claim, type EntryRef, type Expectation } from './declarations/claims.js';
import type { Metric } from './declarations/types.js';
import { loadOutcomes, type CellOutcomes, type StoredOutcomes } from './outcomes.js';

export const ALPHA = 0.05;

export type Verdict = 'reproduced' | 'contradicted' | 'undecided' | 'not judged';

/** The part of a report entry the evaluator reads: where it is, what it measures, its cells per seed. */
export interface EntryCells extends EntryRef {
  readonly metric: Metric;
  readonly cells: readonly string[];
}

/**
 * The validity marks of an entry's pre-processor: its row label and the evaluation cells it reads (so
 * that a row trained against several targets carries only the marks of the one the entry measures).
 */
export type RowMarks = (row: string, cells: readonly string[]) => readonly string[];

export interface ClaimResult {
  readonly claim: Claim;
  readonly verdict: Verdict;
  /** 'points' for accuracies and fooling rates, 'L1' for the 0–255 distances. */
  readonly unit: 'points' | 'L1';
  /** Pooled over seeds (images × seeds). */
  readonly effect?: number;
  readonly interval?: Interval;
  readonly perSeed?: readonly number[];
  /** Mean ± sample sd of the per-seed effects, and the paired t-test over seeds (≥ 2 seeds). */
  readonly seedSd?: number;
  readonly seedTP?: number;
  /** 'exact McNemar', 'sign test', 'TOST (Newcombe)', 'non-inferiority (Newcombe)'. */
  readonly test?: string;
  /** The p-value of the claimed direction (two-sided for 'positive' / 'negative') and its Holm adjustment. */
  readonly p?: number;
  readonly pHolm?: number;
  /** 'within' / 'not-below': the p-value of the opposite statement (beyond the margin) and its adjustment. */
  readonly pAgainst?: number;
  readonly pAgainstHolm?: number;
  readonly images?: number;
  readonly seeds?: number;
  readonly note?: string;
  /**
   * Validity marks of the pre-processors the claim compares ('APE-G: near identity', ...), from the
   * report's baseline-validity record: a claim resting on a pre-processor that does not do its own job
   * says so beside its verdict.
   */
  readonly marks?: readonly string[];
}

type Series = { kind: 'bits'; bits: boolean[][] } | { kind: 'numbers'; values: number[][] };

function seriesOf(entry: EntryCells, read: (key: string) => CellOutcomes | undefined): Series | string {
  const outs: CellOutcomes[] = [];
  for (const key of entry.cells) {
    const o = read(key);
    if (!o) return `no per-image outcomes for ${key}`;
    outs.push(o);
  }
  switch (entry.metric) {
    case 'clean':
      return { kind: 'bits', bits: outs.map((o) => [...o.clean]) };
    case 'robust':
      return { kind: 'bits', bits: outs.map((o) => [...o.robust]) };
    case 'fooling':
      return { kind: 'bits', bits: outs.map((o) => o.robust.map((r) => !r)) };
    case 'l1-adv':
    case 'l1-purified': {
      const values: number[][] = [];
      for (const o of outs) {
        if (!o.l1Adv || !o.l1Purified) return 'no per-image L1 distances kept';
        // Only the images the attack changed, as the panel's means do.
        values.push((entry.metric === 'l1-adv' ? o.l1Adv : o.l1Purified).map((v, i) => (o.l1Adv![i]! > 0 ? v : Number.NaN)));
      }
      return { kind: 'numbers', values };
    }
  }
}

/** The training seed in an evaluation cell's key (`eval-…-s2-<hash>`), or undefined. */
function seedOfCell(key: string): number | undefined {
  const m = /-s(\d+)(?:-[0-9a-f]+)?$/.exec(key);
  return m ? Number(m[1]) : undefined;
}

const sameSign = (values: readonly number[], sign: 1 | -1) => values.every((v) => Math.sign(v) === sign);

interface Measured {
  readonly unit: 'points' | 'L1';
  readonly effect: number;
  readonly interval: Interval;
  readonly perSeed: number[];
  readonly test: string;
  readonly p: number;
  readonly pAgainst?: number;
  readonly images: number;
  readonly seeds: number;
}

function measureTwoBits(a: boolean[][], b: boolean[][], expect: Expectation, margin: number): Measured | string {
  const tables: PairedTable[] = [];
  for (let s = 0; s < a.length; s++) {
    if (a[s]!.length !== b[s]!.length) return `seed ${s}: the entries were evaluated on different numbers of images`;
    tables.push(pairedTable(a[s]!, b[s]!));
  }
  const pooled = tables.reduce((t, u) => ({ a: t.a + u.a, b: t.b + u.b, c: t.c + u.c, d: t.d + u.d }));
  const perSeed = tables.map((t) => (100 * (t.b - t.c)) / (t.a + t.b + t.c + t.d));
  const iv = (z: number) => pairedDifferenceInterval(pooled, z);
  const ci = iv(Z95);
  const total = pooled.a + pooled.b + pooled.c + pooled.d;
  const base = { unit: 'points' as const, effect: (100 * (pooled.b - pooled.c)) / total, interval: { lower: 100 * ci.lower, upper: 100 * ci.upper }, perSeed, images: a[0]!.length, seeds: a.length };
  const m = margin / 100;
  if (expect === 'within') {
    const p = Math.max(invertedOneSidedP(iv, -m, 'lower'), invertedOneSidedP(iv, m, 'upper'));
    const pAgainst = Math.min(1, 2 * Math.min(invertedOneSidedP(iv, m, 'lower'), invertedOneSidedP(iv, -m, 'upper')));
    return { ...base, test: 'TOST (Newcombe)', p, pAgainst };
  }
  if (expect === 'not-below') {
    return { ...base, test: 'non-inferiority (Newcombe)', p: invertedOneSidedP(iv, -m, 'lower'), pAgainst: invertedOneSidedP(iv, -m, 'upper') };
  }
  return { ...base, test: tables.length > 1 ? 'exact McNemar, stratified by seed' : 'exact McNemar', p: (tables.length > 1 ? stratifiedExactMcNemar(tables) : exactMcNemar(pooled.b, pooled.c)).pValue };
}

/** Per-image differences (NaN = not comparable, dropped), pooled over seeds: sign test and t interval. */
function measureDifferences(diffs: number[][], unit: 'points' | 'L1', scale: number): Measured | string {
  const kept = diffs.map((d) => d.filter((v) => !Number.isNaN(v)));
  const all = kept.flat();
  if (all.length < 2) return 'fewer than 2 comparable images';
  const md = meanDifference(all);
  const perSeed = kept.map((d) => (d.length ? (scale * d.reduce((s, v) => s + v, 0)) / d.length : Number.NaN));
  return {
    unit,
    effect: scale * md.mean,
    interval: { lower: scale * md.interval!.lower, upper: scale * md.interval!.upper },
    perSeed,
    test: 'sign test (per image)',
    p: signTest(all).pValue,
    images: Math.round(all.length / diffs.length),
    seeds: diffs.length,
  };
}

function measure(claim: Claim, series: Series[]): Measured | string {
  const [a, b, c, d] = series;
  if (series.length === 2 && a!.kind === 'bits' && b!.kind === 'bits') return measureTwoBits(a.bits, b.bits, claim.expect, claim.margin ?? 0);
  if (claim.expect === 'within' || claim.expect === 'not-below') return `'${claim.expect}' is defined for two accuracy entries only`;
  const num = (s: Series, seed: number): number[] => (s.kind === 'bits' ? s.bits[seed]!.map((v) => (v ? 1 : 0)) : s.values[seed]!);
  const seeds = a!.kind === 'bits' ? a.bits.length : a!.values.length;
  const diffs: number[][] = [];
  for (let s = 0; s < seeds; s++) {
    const va = num(a!, s);
    const vb = num(b!, s);
    const vc = c ? num(c, s) : undefined;
    const vd = d ? num(d, s) : undefined;
    if ([vb, vc, vd].some((v) => v !== undefined && v.length !== va.length)) return `seed ${s}: the entries were evaluated on different numbers of images`;
    diffs.push(va.map((x, i) => x - vb[i]! - (vc && vd ? vc[i]! - vd[i]! : 0)));
  }
  return a!.kind === 'bits' ? measureDifferences(diffs, 'points', 100) : measureDifferences(diffs, 'L1', 1);
}

function decide(claim: Claim, m: Measured, pHolm: number, pAgainstHolm: number | undefined): { verdict: Verdict; note?: string } {
  const seeds = m.perSeed;
  const margin = claim.margin ?? 0;
  if (claim.expect === 'positive' || claim.expect === 'negative') {
    const sign = claim.expect === 'positive' ? 1 : -1;
    if (pHolm >= ALPHA) return { verdict: 'undecided' };
    const observed = Math.sign(m.effect);
    if (observed === 0) return { verdict: 'undecided' };
    const verdict: Verdict = observed === sign ? 'reproduced' : 'contradicted';
    if (!sameSign(seeds, observed as 1 | -1)) return { verdict: 'undecided', note: 'significant when pooled, but not every seed points the same way' };
    return { verdict };
  }
  if (pHolm < ALPHA) {
    const ok = claim.expect === 'within' ? seeds.every((e) => Math.abs(e) < margin) : seeds.every((e) => e > -margin);
    return ok ? { verdict: 'reproduced' } : { verdict: 'undecided', note: 'shown when pooled, but a seed lies beyond the margin' };
  }
  if (pAgainstHolm !== undefined && pAgainstHolm < ALPHA) {
    const side = Math.sign(m.effect);
    const ok = claim.expect === 'within' ? seeds.every((e) => Math.abs(e) > margin && Math.sign(e) === side) : seeds.every((e) => e < -margin);
    return ok ? { verdict: 'contradicted' } : { verdict: 'undecided', note: 'beyond the margin when pooled, but not on every seed' };
  }
  return { verdict: 'undecided' };
}

/**
 * Judges every claim whose entries are found; `entries` are the report's entries, `read` gives a cell's
 * outcomes, `marks` the validity marks of a row's pre-processor (none by default).
 */
export function judgeClaims(
  claims: readonly Claim[],
  entries: readonly EntryCells[],
  read: (key: string) => CellOutcomes | undefined,
  marks: RowMarks = () => [],
): ClaimResult[] {
  const find = (r: EntryRef) => entries.find((e) => e.panel === r.panel && e.row === r.row && e.column === r.column && (e.group ?? undefined) === (r.group ?? undefined));
  const measured = claims.map((claim): { claim: Claim; m?: Measured; note?: string } => {
    const refs = [claim.a, claim.b, claim.c, claim.d].filter((r): r is EntryRef => r !== undefined);
    const found = refs.map(find);
    const missing = refs.find((_, i) => found[i] === undefined);
    if (missing) return { claim, note: `no entry ${missing.panel} / ${missing.row} / ${missing.group ?? ''} / ${missing.column}` };
    const seedCounts = new Set(found.map((e) => e!.cells.length));
    if (seedCounts.size !== 1) return { claim, note: 'the entries have different numbers of seeds' };
    // An experiment run in parts is judged on the seeds whose cells every entry has, and says so.
    const nSeeds = found[0]!.cells.length;
    const complete = [...Array(nSeeds).keys()].filter((i) => found.every((e) => read(e!.cells[i]!) !== undefined));
    const partial = complete.length > 0 && complete.length < nSeeds;
    const used = partial ? found.map((e) => ({ ...e!, cells: complete.map((i) => e!.cells[i]!) })) : found;
    const series: Series[] = [];
    for (const e of used) {
      const s = seriesOf(e!, read);
      if (typeof s === 'string') return { claim, note: s };
      series.push(s);
    }
    const m = measure(claim, series);
    if (typeof m === 'string') return { claim, note: m };
    const seedNames = complete.map((i) => seedOfCell(found[0]!.cells[i]!) ?? i).join(', ');
    return { claim, m, ...(partial ? { note: `on ${complete.length} of ${nSeeds} seeds (${seedNames}): the other seeds' cells are not finished` } : {}) };
  });
  // Holm within each family, over the claims that could be measured.
  const pHolm = new Map<Claim, number>();
  const pAgainstHolm = new Map<Claim, number>();
  for (const family of new Set(claims.map((c) => c.family))) {
    const members = measured.filter((x): x is { claim: Claim; m: Measured } => x.m !== undefined && x.claim.family === family);
    holmAdjust(members.map((x) => x.m.p)).forEach((p, i) => pHolm.set(members[i]!.claim, p));
    const against = members.filter((x) => x.m.pAgainst !== undefined);
    holmAdjust(against.map((x) => x.m.pAgainst!)).forEach((p, i) => pAgainstHolm.set(against[i]!.claim, p));
  }
  const marksOf = (claim: Claim): { marks?: string[] } => {
    const refs = [claim.a, claim.b, claim.c, claim.d].filter((r): r is EntryRef => r !== undefined);
    const all = refs.flatMap((r) => marks(r.row, find(r)?.cells ?? []).map((mk) => `${r.row}: ${mk}`));
    return all.length ? { marks: [...new Set(all)] } : {};
  };
  return measured.map(({ claim, m, note }): ClaimResult => ({ ...judged(claim, m, note), ...marksOf(claim) }));

  function judged(claim: Claim, m: Measured | undefined, note: string | undefined): ClaimResult {
    if (!m) return { claim, verdict: 'not judged', unit: claim.a.column.includes('natural') ? 'L1' : 'points', ...(note ? { note } : {}) };
    const ph = pHolm.get(claim)!;
    const pa = pAgainstHolm.get(claim);
    const decided = decide(claim, m, ph, pa);
    const verdict = decided.verdict;
    // A margin claim is contradicted by the test of the opposite statement: say which p decided it.
    const reason = decided.note ?? (verdict === 'contradicted' && m.pAgainst !== undefined ? `beyond the margin: p ${formatP(m.pAgainst)}, Holm ${formatP(pa)}` : undefined);
    // `note` here is the partly-finished-seeds note, when there is one.
    const why = [note, reason].filter(Boolean).join('; ') || undefined;
    const seedStats = m.perSeed.length >= 2 ? meanSd(m.perSeed) : undefined;
    const seedT = m.perSeed.length >= 2 ? meanDifference(m.perSeed).tPValue : undefined;
    return {
      claim,
      verdict,
      unit: m.unit,
      effect: m.effect,
      interval: m.interval,
      perSeed: m.perSeed,
      ...(seedStats?.sd !== undefined ? { seedSd: seedStats.sd } : {}),
      ...(seedT !== undefined ? { seedTP: seedT } : {}),
      test: m.test,
      p: m.p,
      pHolm: ph,
      ...(m.pAgainst !== undefined ? { pAgainst: m.pAgainst, ...(pa !== undefined ? { pAgainstHolm: pa } : {}) } : {}),
      images: m.images,
      seeds: m.seeds,
      ...(why ? { note: why } : {}),
    };
  }
}

/** The claims of the panels present, judged from the compact outcomes of results.json. */
export function judgeClaimsFromStored(
  panelIds: readonly string[],
  entries: readonly EntryCells[],
  outcomes: Readonly<Record<string, StoredOutcomes>>,
  marks: RowMarks = () => [],
): ClaimResult[] {
  const cache = new Map<string, CellOutcomes>();
  const read = (key: string): CellOutcomes | undefined => {
    const s = outcomes[key];
    if (!s) return undefined;
    if (!cache.has(key)) cache.set(key, loadOutcomes(s));
    return cache.get(key);
  };
  return judgeClaims(claimsFor(panelIds), entries, read, marks);
}

export interface FamilySummary {
  readonly family: string;
  readonly counts: Readonly<Record<Verdict, number>>;
}

export function summarizeFamilies(results: readonly ClaimResult[]): FamilySummary[] {
  const families = [...new Set(results.map((r) => r.claim.family))];
  return families.map((family) => {
    const counts: Record<Verdict, number> = { reproduced: 0, contradicted: 0, undecided: 0, 'not judged': 0 };
    for (const r of results) if (r.claim.family === family) counts[r.verdict]++;
    return { family, counts };
  });
}

const VERDICTS: readonly Verdict[] = ['reproduced', 'contradicted', 'undecided', 'not judged'];

/**
 * The verdict of a whole statement ("each baseline lowers ... under each attack" holds only if every
 * comparison does): contradicted when any comparison is, reproduced when all are, partly reproduced
 * when some are and the rest undecided, not judged when none could be judged.
 */
export function statementVerdict(counts: Readonly<Record<Verdict, number>>): string {
  const total = VERDICTS.reduce((s, v) => s + counts[v], 0);
  const judged = total - counts['not judged'];
  if (judged === 0) return 'not judged';
  if (counts.contradicted > 0) return `contradicted (${counts.contradicted} of ${total})`;
  if (counts.reproduced === total) return 'reproduced';
  if (counts.reproduced > 0) return `partly reproduced (${counts.reproduced} of ${total})`;
  return 'undecided';
}

export function formatP(p: number | undefined): string {
  if (p === undefined) return '–';
  if (p < 1e-4) return '<0.0001';
  return p.toFixed(4);
}

function signed(v: number, digits = 1): string {
  return `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(digits)}`;
}

/** '−11.5 [−16.2, −6.9]' (points or L1 units). */
export function formatEffect(r: ClaimResult): string {
  if (r.effect === undefined || !r.interval) return '–';
  const d = r.unit === 'L1' ? 2 : 1;
  return `${signed(r.effect, d)} [${signed(r.interval.lower, d)}, ${signed(r.interval.upper, d)}]`;
}

export function formatSeeds(r: ClaimResult): string {
  if (!r.perSeed || r.perSeed.length === 0) return '–';
  const d = r.unit === 'L1' ? 2 : 1;
  if (r.perSeed.length === 1) return signed(r.perSeed[0]!, d);
  const { mean } = meanSd(r.perSeed);
  return `${r.perSeed.map((v) => signed(v, d)).join(', ')} (${signed(mean, d)} ± ${(r.seedSd ?? 0).toFixed(d)}; t-test p ${formatP(r.seedTP)})`;
}

/** The text that heads a verdict table: the rules in one paragraph. */
export const VERDICT_RULES =
  `Each row compares two entries of the tables below on the same test images (effect = first − second, in accuracy or fooling-rate points, or 0–255 L1 units for Fig. 2(b); pooled over seeds, with its 95 % interval). ` +
  `Test: exact McNemar (two-sided, conventional p, stratified by seed) with Newcombe's paired score interval; per-image sign test and t interval for differences of drops and for L1; ` +
  `"close" and "at least as good" use a margin of 3 points fixed before the run (two one-sided tests). ` +
  `p (Holm): adjusted within the claim's family, α = ${ALPHA}. Reproduced / contradicted: Holm-adjusted p < α with the effect in the claimed / the opposite direction on the pooled images and on every seed; undecided otherwise; not judged: cells or their per-image outcomes missing on every seed. While an experiment is still running, a comparison whose entries have some seeds finished is judged on those seeds (its note names them).`;

const escapeCell = (s: string): string => s.replace(/\|/g, '\\|');

/** The header of the per-comparison table (markdown). */
export const COMPARISON_HEADER = ['| comparison | effect [95 % CI] | per seed | test | p | p (Holm) | verdict |', '|---|---:|---|---|---:|---:|---|'] as const;

/** One comparison as a markdown table row: statement, effect and interval, per seed, test, p, Holm p, verdict with its note and marks. */
export function comparisonRow(r: ClaimResult): string {
  const verdict = r.verdict === 'reproduced' || r.verdict === 'contradicted' ? `**${r.verdict}**` : r.verdict;
  const marks = r.marks?.length ? `; marked: ${r.marks.join(', ')}` : '';
  return `| ${escapeCell(r.claim.statement)} | ${formatEffect(r)} | ${formatSeeds(r)} | ${r.test ?? '–'} | ${formatP(r.p)} | ${formatP(r.pHolm)} | ${verdict}${r.note || marks ? ` (${escapeCell([r.note, marks.slice(2)].filter(Boolean).join('; '))})` : ''} |`;
}

/** The verdict section in markdown: a summary per family, then every claim. */
export function verdictMarkdown(results: readonly ClaimResult[], heading = '## Verdicts: which claims of the paper this run reproduces'): string {
  const lines: string[] = [heading, '', VERDICT_RULES, ''];
  if (results.length === 0) return [...lines, 'No claim of the paper can be judged from the experiments of this report.', ''].join('\n');
  const total = Object.fromEntries(VERDICTS.map((v) => [v, results.filter((r) => r.verdict === v).length])) as Record<Verdict, number>;
  lines.push(`${results.length} comparisons: ${VERDICTS.map((v) => `${total[v]} ${v}`).join(', ')}.`, '');
  lines.push('| statement of the paper | verdict | reproduced | contradicted | undecided | not judged |', '|---|---|---:|---:|---:|---:|');
  for (const f of summarizeFamilies(results)) lines.push(`| ${escapeCell(f.family)} | ${statementVerdict(f.counts)} | ${VERDICTS.map((v) => f.counts[v]).join(' | ')} |`);
  lines.push('', ...COMPARISON_HEADER);
  for (const r of results) lines.push(comparisonRow(r));
  lines.push('');
  return lines.join('\n');
}
