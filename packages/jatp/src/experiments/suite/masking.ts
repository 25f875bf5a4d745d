/**
 * The report's gradient-masking section: the sanity card's checks (`jatp eval --sanity`) that can be
 * judged from the evaluations an experiment already ran, one line per full model (target, pre-processor,
 * seed). No attack is run here: each check compares the robust accuracies of two eval cells of the
 * same full model on the same test images, and the headline is the robust accuracy under the union of
 * every attack run on that model (an example counts as robust only if no attack broke it).
 *
 * The experiments' columns have no Square and no single-step attack today, so those two checks say
 * "not run"; they judge as soon as a declaration adds a 'Square' or 'FGSM' column. AutoAttack's own
 * Square stage is judged from the stages recorded by the 'AA' cell (evaluation/square-check.ts).
 */
import { TARGET_LABELS, defenseLabel, type EvalCell } from './cells.js';
import type { EvalJson } from '../../evaluation/eval-json.js';
import { squareAfterGradientCheck } from '../../evaluation/square-check.js';

export type MaskingStatus = 'pass' | 'warn' | 'not run';

export interface MaskingCheck {
  readonly id: 'bpda-vs-full' | 'black-box-vs-white-box' | 'iterative-vs-single' | 'aa-square-after-gradient';
  readonly title: string;
  readonly status: MaskingStatus;
  /** One sentence with the numbers, or why the check could not be judged. */
  readonly detail: string;
  /** Robust accuracies (fractions) behind the verdict. */
  readonly numbers: Readonly<Record<string, number>>;
  /** The eval cells compared. */
  readonly cells: readonly string[];
}

export interface ModelMasking {
  /** 'JATP + TRADES', 'APE-G (Obl) + Standard', 'None + TRADES' (plus ', seed s' with several seeds). */
  readonly model: string;
  readonly n?: number;
  /** Fraction of the test images correct under every attack run on this model; undefined when none finished. */
  readonly unionRobustAccuracy?: number;
  /** The attack columns the union covers (finished cells only). */
  readonly unionAttacks: readonly string[];
  readonly unionCells: readonly string[];
  readonly checks: readonly MaskingCheck[];
}

/** A cell's eval.json as the checks read it: the per-example fields may be missing in files of older writers. */
export type MaskingEval = Omit<EvalJson, 'clean' | 'attacks'> & {
  readonly clean?: readonly boolean[];
  readonly attacks: readonly (Omit<EvalJson['attacks'][number], 'robust'> & { readonly robust?: readonly boolean[] })[];
};

/** Differences up to this are noise, not a warning: the sanity card's default, max(0.02, 2/n). */
export function maskingTolerance(n: number): number {
  return Math.max(0.02, 2 / n);
}

const WHITE_BOX = ['PGD', 'DLR', 'AA', 'FWA', 'TI-BIM'];
const pct = (v: number): string => `${(100 * v).toFixed(1)} %`;

function modelLabel(cell: EvalCell, manySeeds: boolean): string {
  const target = TARGET_LABELS[cell.target.recipe] ?? cell.target.recipe;
  return `${defenseLabel(cell.defense, true)} + ${target}${manySeeds ? `, seed ${cell.seed}` : ''}`;
}

/** Cells of one full model: same target, same pre-processor, same seed; only the attack differs. */
function modelId(cell: EvalCell): string {
  return JSON.stringify({ target: cell.target, defense: cell.defense ?? null, seed: cell.seed });
}

function unionOf(done: readonly { key: string; e: MaskingEval }[]): number | undefined {
  if (done.length === 0) return undefined;
  const first = done[0]!.e;
  const clean = first.clean;
  if (!clean || done.some(({ e }) => e.n !== first.n || !e.attacks[0]?.robust || e.attacks[0].robust.length !== first.n)) return undefined;
  let robust = 0;
  for (let i = 0; i < first.n; i++) if (clean[i] && done.every(({ e }) => e.attacks[0]!.robust![i])) robust++;
  return robust / first.n;
}

/**
 * One line per full model of `evaluations` (the grid's eval cells), judged from the finished cells
 * `read` returns. Pure: the report calls it with the eval.json reader, tests with built results.
 */
export function maskingChecks(evaluations: readonly { cell: EvalCell; key: string }[], read: (key: string) => MaskingEval | undefined): ModelMasking[] {
  const models = new Map<string, { first: EvalCell; byAttack: Map<string, { key: string; e?: MaskingEval }> }>();
  for (const { cell, key } of evaluations) {
    const id = modelId(cell);
    const m = models.get(id) ?? { first: cell, byAttack: new Map() };
    const e = read(key);
    m.byAttack.set(cell.attack, { key, ...(e ? { e } : {}) });
    models.set(id, m);
  }
  const manySeeds = new Set(evaluations.map((c) => c.cell.seed)).size > 1;
  return [...models.values()].map(({ first, byAttack }) => {
    const done = [...byAttack.entries()].filter((x): x is [string, { key: string; e: MaskingEval }] => x[1].e !== undefined);
    const n = done[0]?.[1].e.n;
    const t = maskingTolerance(n ?? 1);
    const acc = (attack: string) => {
      const c = byAttack.get(attack);
      return c?.e?.attacks[0] ? { key: c.key, value: c.e.attacks[0].robustAccuracy } : undefined;
    };
    const checks: MaskingCheck[] = [];
    const judge = (id: MaskingCheck['id'], title: string, ok: boolean, detail: string, numbers: Record<string, number>, cells: string[]) =>
      checks.push({ id, title, status: ok ? 'pass' : 'warn', detail, numbers, cells });
    const notRun = (id: MaskingCheck['id'], title: string, detail: string) => checks.push({ id, title, status: 'not run', detail, numbers: {}, cells: [] });

    const bpdaTitle = 'BPDA is not stronger than the full gradient';
    const bpda = acc('BPDA');
    const pgd = acc('PGD');
    if (!first.defense) notRun('bpda-vs-full', bpdaTitle, 'no pre-processor: BPDA is the full gradient');
    else if (!bpda || !pgd) notRun('bpda-vs-full', bpdaTitle, `needs BPDA and PGD on this model (${!bpda && !pgd ? 'neither' : !bpda ? 'no BPDA' : 'no PGD'})`);
    else judge('bpda-vs-full', bpdaTitle, bpda.value >= pgd.value - t, `BPDA ${pct(bpda.value)}, full-gradient PGD ${pct(pgd.value)}`, { bpda: bpda.value, pgd: pgd.value, tolerance: t }, [bpda.key, pgd.key]);

    const squareTitle = 'black-box Square is not stronger than the white-box attacks';
    const square = acc('Square');
    const whiteBox = WHITE_BOX.map((a) => ({ a, r: acc(a) })).filter((x): x is { a: string; r: { key: string; value: number } } => x.r !== undefined);
    if (!square || whiteBox.length === 0) notRun('black-box-vs-white-box', squareTitle, !square ? 'no Square evaluation on this model' : 'no white-box evaluation on this model');
    else {
      const best = whiteBox.reduce((a, b) => (b.r.value < a.r.value ? b : a));
      judge('black-box-vs-white-box', squareTitle, square.value >= best.r.value - t, `Square ${pct(square.value)}, best white-box (${best.a}) ${pct(best.r.value)}`, { square: square.value, whiteBox: best.r.value, tolerance: t }, [square.key, best.r.key]);
    }

    const singleTitle = 'iterative attacks beat single-step';
    const single = acc('FGSM');
    if (!single || !pgd) notRun('iterative-vs-single', singleTitle, !single ? 'no single-step (FGSM) evaluation on this model' : 'no PGD evaluation on this model');
    else judge('iterative-vs-single', singleTitle, pgd.value <= single.value + t, `single step (FGSM) ${pct(single.value)}, PGD ${pct(pgd.value)}`, { single: single.value, pgd: pgd.value, tolerance: t }, [single.key, pgd.key]);

    // AutoAttack's own check, from the stages of its cell: Square after the gradient stages.
    const aaTitle = "AutoAttack's Square breaks no more than 0.2 % after the gradient stages";
    const aaCell = byAttack.get('AA');
    const aaCheck = aaCell?.e ? squareAfterGradientCheck(aaCell.e.attacks[0]?.stages, aaCell.e.n) : undefined;
    if (!aaCell?.e) notRun('aa-square-after-gradient', aaTitle, 'no AutoAttack evaluation on this model');
    else if (!aaCheck) notRun('aa-square-after-gradient', aaTitle, 'the AutoAttack cell has no Square stage after a gradient stage');
    else judge('aa-square-after-gradient', aaTitle, !aaCheck.warn, aaCheck.message, { before: aaCheck.before, after: aaCheck.after, flipped: aaCheck.flipped, n: aaCheck.n }, [aaCell.key]);

    const union = unionOf(done.map(([, c]) => c));
    return {
      model: modelLabel(first, manySeeds),
      ...(n !== undefined ? { n } : {}),
      ...(union !== undefined ? { unionRobustAccuracy: union } : {}),
      unionAttacks: union !== undefined ? done.map(([a]) => a) : [],
      unionCells: union !== undefined ? done.map(([, c]) => c.key) : [],
      checks,
    };
  });
}

/** '33.3 % (PGD, BPDA)' or 'not run'. */
export function formatUnion(m: ModelMasking): string {
  return m.unionRobustAccuracy === undefined ? 'not run' : `${pct(m.unionRobustAccuracy)} (${m.unionAttacks.join(', ')})`;
}

/** 'pass: BPDA 50.0 %, full-gradient PGD 33.3 %', 'not run: no Square evaluation on this model'. */
export function formatCheck(c: MaskingCheck): string {
  return `${c.status}: ${c.detail}`;
}

export const MASKING_COLUMNS: readonly { id: MaskingCheck['id']; header: string }[] = [
  { id: 'bpda-vs-full', header: 'BPDA ≥ full gradient' },
  { id: 'black-box-vs-white-box', header: 'Square ≥ white-box' },
  { id: 'iterative-vs-single', header: 'iterative ≤ single-step' },
  { id: 'aa-square-after-gradient', header: 'AA: Square after gradient stages' },
];
