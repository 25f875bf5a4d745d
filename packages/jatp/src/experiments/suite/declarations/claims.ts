/**
 * The paper's statements that the experiments can test, as data: each claim names the table entries it
 * compares (panel, row, group, column, as the declarations beside this file produce them), the
 * direction the paper reports and the family it belongs to (one statement of the paper; Holm's
 * correction runs within a family). `verdicts.ts` judges them from the cells' per-image outcomes.
 *
 * The margin of "close to" is fixed here, before any result is read: δ = 3 accuracy points. Every gap
 * between JATP and no pre-processing that the paper reports in Tables 1 and 2 is below 3 points (the
 * largest, 2.8, is Table 1's FWA column), so "JATP stays close to None" means "within ±3 points", and
 * "JATP′ ≥ JATP" means "JATP′ is not more than 3 points below JATP" (non-inferiority).
 */
import type { TargetRecipeName } from '../../../targets/presets.js';
import { TARGET_LABELS } from '../cells.js';
import { TABLE1_COLUMNS } from './table1.js';
import { TABLE2_COLUMNS, TABLE2_TARGETS } from './table2.js';

/** Points of accuracy within which two full models count as close (see the module note). */
export const CLOSE_MARGIN_POINTS = 3;

export interface EntryRef {
  readonly panel: string;
  readonly row: string;
  readonly group?: string;
  readonly column: string;
}

/**
 * What the paper reports about the effect E = a − b (or (a − b) − (c − d) with four entries), in
 * points (accuracy or fooling rate) or in 0–255 L1 units:
 * 'positive' E > 0, 'negative' E < 0, 'within' |E| < margin, 'not-below' E > −margin.
 */
export type Expectation = 'positive' | 'negative' | 'within' | 'not-below';

export interface Claim {
  /** Unique, stable: 'table1/below-none/APE-G/PGD'. */
  readonly id: string;
  /** The family: one statement of the paper (Holm's correction runs within it). */
  readonly family: string;
  /** The comparison in words: 'APE-G < None, PGD'. */
  readonly statement: string;
  readonly expect: Expectation;
  readonly margin?: number;
  readonly a: EntryRef;
  readonly b: EntryRef;
  readonly c?: EntryRef;
  readonly d?: EntryRef;
}

const BASELINES = ['APE-G', 'HGD', 'NRP'] as const;
/** The adaptive-attack columns the paper's claims are about: not Natural, and not OBL (the oblivious validity column, not in the paper). */
const attacksOf = (columns: readonly string[]) => columns.filter((c) => c !== 'Natural' && c !== 'OBL');

/** Table 1 (TRADES target) and the quick start (Table 1 in small). */
function tableClaims(panel: string, label: string, group: string | undefined, columns: readonly string[], baselines: readonly string[], withBest: boolean): Claim[] {
  const ref = (row: string, column: string): EntryRef => ({ panel, row, ...(group !== undefined ? { group } : {}), column });
  const where = group !== undefined ? `${group}, ` : '';
  const out: Claim[] = [];
  for (const col of attacksOf(columns)) {
    for (const m of baselines) {
      out.push({ id: `${panel}/below-none/${where}${m}/${col}`, family: `${label}: each baseline lowers the target's accuracy under each adaptive attack`, statement: `${m} < None (${where}${col})`, expect: 'negative', a: ref(m, col), b: ref('None', col) });
    }
  }
  if (withBest) {
    for (const col of attacksOf(columns)) {
      for (const m of baselines) {
        out.push({ id: `${panel}/jatp-best/${where}${m}/${col}`, family: `${label}: JATP is the best pre-processor under each attack`, statement: `JATP > ${m} (${where}${col})`, expect: 'positive', a: ref('JATP', col), b: ref(m, col) });
      }
    }
  }
  for (const col of attacksOf(columns)) {
    out.push({ id: `${panel}/jatp-close/${where}${col}`, family: `${label}: JATP stays within ±${CLOSE_MARGIN_POINTS} points of no pre-processing`, statement: `|JATP − None| < ${CLOSE_MARGIN_POINTS} (${where}${col})`, expect: 'within', margin: CLOSE_MARGIN_POINTS, a: ref('JATP', col), b: ref('None', col) });
  }
  return out;
}

function table2Claims(): Claim[] {
  const label = 'Table 2';
  const out: Claim[] = [];
  const groups = TABLE2_TARGETS.map((t) => TARGET_LABELS[t]!);
  for (const g of groups) out.push(...tableClaims('table2', label, g, TABLE2_COLUMNS, BASELINES, true));
  for (const g of groups) {
    for (const col of attacksOf(TABLE2_COLUMNS)) {
      out.push({
        id: `table2/jatp-joint/${g}/${col}`,
        family: `${label}: JATP′ is at least as good as JATP (non-inferiority, margin ${CLOSE_MARGIN_POINTS} points)`,
        statement: `JATP′ ≥ JATP − ${CLOSE_MARGIN_POINTS} (${g}, ${col})`,
        expect: 'not-below',
        margin: CLOSE_MARGIN_POINTS,
        a: { panel: 'table2', row: 'JATP′', group: g, column: col },
        b: { panel: 'table2', row: 'JATP', group: g, column: col },
      });
    }
  }
  // The family names carry no target: each statement is one family over all three targets.
  return out;
}

const FIG1_COLUMNS = ['PGD', 'AA', 'FWA'] as const;
const FIG1_TARGETS: readonly TargetRecipeName[] = ['standard', 'trades'];

function fig1Claims(): Claim[] {
  const out: Claim[] = [];
  for (const t of FIG1_TARGETS) {
    const g = TARGET_LABELS[t]!;
    for (const col of FIG1_COLUMNS) {
      for (const m of BASELINES) {
        out.push({ id: `fig1/obl-below-none/${g}/${m}/${col}`, family: 'Fig. 1(a,b): baselines trained on oblivious examples lower the accuracy', statement: `${m} (Obl) < None (${g}, ${col})`, expect: 'negative', a: { panel: 'fig1', row: m, group: g, column: col }, b: { panel: 'fig1', row: 'None', group: g, column: col } });
      }
    }
  }
  for (const t of FIG1_TARGETS) {
    const g = TARGET_LABELS[t]!;
    for (const col of FIG1_COLUMNS) {
      for (const m of BASELINES) {
        const ref = (row: string): EntryRef => ({ panel: 'fig2a', row, group: g, column: col });
        out.push({ id: `fig2a/full-above-obl/${g}/${m}/${col}`, family: 'Fig. 1(c) / 2(a): Full training examples beat Obl', statement: `${m} (Full) > ${m} (Obl) (${g}, ${col})`, expect: 'positive', a: ref(`${m} (Full)`), b: ref(`${m} (Obl)`) });
        out.push({ id: `fig2a/full-below-none/${g}/${m}/${col}`, family: 'Fig. 1(c) / 2(a): with Full examples the baselines still stay below None', statement: `${m} (Full) < None (${g}, ${col})`, expect: 'negative', a: ref(`${m} (Full)`), b: ref('None') });
      }
    }
  }
  for (const m of BASELINES) {
    out.push({
      id: `fig2b/farther/${m}`,
      family: 'Fig. 2(b): purified adversarial images are farther from the natural ones than the adversarial inputs',
      statement: `L1(purified) > L1(adversarial), ${m}`,
      expect: 'positive',
      a: { panel: 'fig2b', row: m, column: 'purified vs natural' },
      b: { panel: 'fig2b', row: m, column: 'adversarial vs natural' },
    });
  }
  return out;
}

function fig4aClaims(): Claim[] {
  return (['BPDA', 'PGD'] as const).flatMap((col) =>
    BASELINES.map((m): Claim => ({ id: `fig4a/lowest-fooling/${m}/${col}`, family: 'Fig. 4(a): JATP has the lowest fooling rate under BPDA and under PGD', statement: `fooling JATP < ${m} (${col})`, expect: 'negative', a: { panel: 'fig4a', row: 'JATP', column: col }, b: { panel: 'fig4a', row: m, column: col } })),
  );
}

const FIG4B_TARGETS: readonly TargetRecipeName[] = ['trades', 'standard', 'mma', 'mart'];
const ABLATED = ['Pix', 'BCE', 'FSM'] as const;

function fig4bClaims(): Claim[] {
  const out: Claim[] = [];
  const ref = (row: string, t: TargetRecipeName): EntryRef => ({ panel: 'fig4b', row, group: TARGET_LABELS[t]!, column: 'PGD' });
  for (const term of ABLATED) {
    for (const t of FIG4B_TARGETS) {
      out.push({ id: `fig4b/ablation-lowers/${term}/${TARGET_LABELS[t]}`, family: 'Fig. 4(b): removing the pixel loss, BCE or FSM each lowers robustness', statement: `JATP w/o ${term} < JATP (${TARGET_LABELS[t]}, PGD)`, expect: 'negative', a: ref(`JATP w/o ${term}`, t), b: ref('JATP', t) });
    }
  }
  for (const t of FIG4B_TARGETS.filter((x) => x !== 'trades')) {
    out.push({
      id: `fig4b/pix-transfer/${TARGET_LABELS[t]}`,
      family: 'Fig. 4(b): removing the pixel loss hurts mostly on the other targets',
      statement: `drop w/o Pix on ${TARGET_LABELS[t]} > drop on TRADES (PGD)`,
      expect: 'positive',
      a: ref('JATP', t),
      b: ref('JATP w/o Pix', t),
      c: ref('JATP', 'trades'),
      d: ref('JATP w/o Pix', 'trades'),
    });
  }
  return out;
}

/** Every claim of the paper the declared panels can test, keyed by panel id. */
export function allClaims(): Claim[] {
  return [
    ...tableClaims('table1', 'Table 1', undefined, TABLE1_COLUMNS, BASELINES, true),
    ...table2Claims(),
    ...fig1Claims(),
    ...fig4aClaims(),
    ...fig4bClaims(),
    ...tableClaims('quickstart', 'Quick start', undefined, ['PGD', 'DLR'], ['APE-G'], true),
  ];
}

/** The claims whose every entry is in one of the panels present (a report of `table1` judges Table 1's claims only). */
export function claimsFor(panelIds: readonly string[]): Claim[] {
  return allClaims().filter((c) => [c.a, c.b, c.c, c.d].every((r) => r === undefined || panelIds.includes(r.panel)));
}
