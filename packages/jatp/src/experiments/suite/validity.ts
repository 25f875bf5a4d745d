/**
 * Baseline validity, one record per pre-processor (method, training examples, ablation, target; all
 * seeds together): does it do the job it was built for, and did its training finish?
 *
 * - oblivious gain: accuracy of F = T(clip01(P(·))) minus that of T on the same PGD examples made
 *   against T alone (the OBL cell), paired per image and pooled over seeds, with a 95 % interval;
 * - distance from the identity: mean |P(x) − x| on natural and on adversarial inputs, and the ratio of
 *   the latter to the attack's own mean |x_adv − x|;
 * - plateau: whether each seed's training stopped at the plateau of its last phase (plateau.ts) rather
 *   than at the cap (undefined for fixed-schedule scales).
 *
 * A record is marked when its gain's interval reaches 0 ("oblivious gain within noise") or lies wholly
 * below it ("oblivious gain negative": P harms the job it was built for), when
 * the ratio is under NEAR_IDENTITY_RATIO ("near identity") or when a seed hit the cap ("no plateau").
 * These thresholds are fixed here, before any run they judge.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DefenseConfig } from '../../defenses/presets.js';
import { epochObjectives, plateauState } from '../../defenses/plateau.js';
import { cellDir, defenseLabel, evalUsesDefense, TARGET_LABELS, type EvalCell, type ResolvedCell } from './cells.js';
import type { RowMarks } from './verdicts.js';
import { identityRatio, pairedGain, type ObliviousReport, type PairedGain } from './oblivious.js';

/** Below this, P moves an adversarial input by less than a quarter of what the attack moved it. */
export const NEAR_IDENTITY_RATIO = 0.25;

export interface ValidityRecord {
  /** 'APE-G (Obl) → TRADES', 'JATP w/o BCE → TRADES'. */
  readonly preprocessor: string;
  readonly seeds: number;
  /** Seeds whose OBL cell has finished. */
  readonly seedsDone: number;
  /** Accuracy (%) of T and of F on the oblivious examples, mean over finished seeds. */
  readonly targetObliviousAccuracy?: number;
  readonly fullObliviousAccuracy?: number;
  /** F − T in points, pooled over finished seeds' images, with its 95 % interval (points). */
  readonly obliviousGain?: { readonly points: number; readonly lo: number; readonly hi: number; readonly n: number; readonly fullOnly: number; readonly targetOnly: number };
  /** Per seed: F − T in points (null while the cell is missing). */
  readonly gainPerSeed: (number | null)[];
  /** Mean |P(x) − x|, |P(x_adv) − x_adv| and |x_adv − x| per element (0–1 scale), over finished seeds. */
  readonly identityNatural?: number;
  readonly identityAdversarial?: number;
  readonly perturbation?: number;
  /** identityAdversarial / perturbation. */
  readonly identityRatio?: number;
  /** Per seed: true = stopped at its last plateau, false = hit the epoch cap, null = not trained yet / fixed schedule. */
  readonly plateauReached: (boolean | null)[];
  /** Per seed: epochs trained and the epochs where phases ended. */
  readonly epochs: (number | null)[];
  readonly plateauEpochs: number[][];
  /** 'oblivious gain within noise' or 'negative', 'near identity', 'no plateau' (empty: valid so far). */
  readonly marks: string[];
  readonly cells: string[];
  readonly trainings: string[];
}

/** The part of an OBL cell's eval.json read here. */
export type ObliviousEval = Pick<ObliviousReport, 'n' | 'attacks' | 'oblivious'>;

/** The plateau outcome of one training cell's run folder (undefined: fixed schedule or not started). */
export function trainingPlateau(dir: string, config: DefenseConfig): { reached: boolean | null; epochs: number | null; plateauEpochs: number[] } {
  if (!config.plateau) return { reached: null, epochs: null, plateauEpochs: [] };
  const objectives = epochObjectives(dir, config.plateau.objective);
  const state = plateauState(objectives, config.plateau);
  const finished = fs.existsSync(path.join(dir, 'done.json'));
  return { reached: finished || state.converged ? state.converged : null, epochs: objectives.length || null, plateauEpochs: [...state.plateauEpochs] };
}

/** One record from the finished OBL evaluations and plateau outcomes of a pre-processor's seeds (pure). */
export function validityRecord(
  label: string,
  evals: readonly (ObliviousEval | undefined)[],
  plateaus: readonly { reached: boolean | null; epochs: number | null; plateauEpochs: number[] }[],
  keys: { cells: string[]; trainings: string[] },
): ValidityRecord {
  const done = evals.filter((e): e is ObliviousEval => e !== undefined);
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : undefined);
  const pooled: PairedGain | undefined = done.length
    ? pairedGain(done.flatMap((e) => e.attacks[0]!.robust), done.flatMap((e) => e.oblivious.targetRobust))
    : undefined;
  const identityNatural = mean(done.map((e) => e.oblivious.identityNatural));
  const identityAdversarial = mean(done.map((e) => e.oblivious.identityAdversarial));
  const perturbation = mean(done.map((e) => e.oblivious.perturbation));
  const ratio = identityAdversarial !== undefined && perturbation !== undefined ? identityRatio(identityAdversarial, perturbation) : undefined;
  const marks: string[] = [];
  if (pooled && pooled.hi < 0) marks.push('oblivious gain negative');
  else if (pooled && pooled.lo <= 0) marks.push('oblivious gain within noise');
  if (ratio !== undefined && ratio < NEAR_IDENTITY_RATIO) marks.push('near identity');
  if (plateaus.some((p) => p.reached === false)) marks.push('no plateau');
  const targetAcc = mean(done.map((e) => 100 * e.oblivious.targetRobustAccuracy));
  const fullAcc = mean(done.map((e) => 100 * e.attacks[0]!.robustAccuracy));
  return {
    preprocessor: label,
    seeds: evals.length,
    seedsDone: done.length,
    ...(targetAcc !== undefined ? { targetObliviousAccuracy: targetAcc } : {}),
    ...(fullAcc !== undefined ? { fullObliviousAccuracy: fullAcc } : {}),
    ...(pooled ? { obliviousGain: { points: 100 * pooled.gain, lo: 100 * pooled.lo, hi: 100 * pooled.hi, n: pooled.n, fullOnly: pooled.aOnly, targetOnly: pooled.bOnly } } : {}),
    gainPerSeed: evals.map((e) => (e ? 100 * pairedGain(e.attacks[0]!.robust, e.oblivious.targetRobust).gain : null)),
    ...(identityNatural !== undefined ? { identityNatural } : {}),
    ...(identityAdversarial !== undefined ? { identityAdversarial } : {}),
    ...(perturbation !== undefined ? { perturbation } : {}),
    ...(ratio !== undefined ? { identityRatio: ratio } : {}),
    plateauReached: plateaus.map((p) => p.reached),
    epochs: plateaus.map((p) => p.epochs),
    plateauEpochs: plateaus.map((p) => p.plateauEpochs),
    marks,
    ...keys,
  };
}

/** The validity records of a grid's pre-processors, read from the experiment folder `out`. */
export function collectValidity(out: string, validity: readonly ResolvedCell[]): ValidityRecord[] {
  const groups = new Map<string, ResolvedCell[]>();
  for (const c of validity) {
    const d = (c.cell as EvalCell).defense!;
    const label = `${defenseLabel(d, d.examples !== undefined)} → ${TARGET_LABELS[d.target.recipe] ?? d.target.recipe}`;
    groups.set(label, [...(groups.get(label) ?? []), c]);
  }
  return [...groups.entries()].map(([label, cells]) => {
    cells.sort((a, b) => a.cell.seed - b.cell.seed);
    const evals = cells.map((c) => {
      const f = path.join(cellDir(out, c.key), 'eval.json');
      return fs.existsSync(f) ? (JSON.parse(fs.readFileSync(f, 'utf8')) as ObliviousEval) : undefined;
    });
    const trainings = cells.map((c) => c.needs.find((n) => n.cell.kind === 'defense')!);
    const plateaus = trainings.map((t) => trainingPlateau(cellDir(out, t.key), (t.settings as { config: DefenseConfig }).config));
    return validityRecord(label, evals, plateaus, { cells: cells.map((c) => c.key), trainings: trainings.map((t) => t.key) });
  });
}

/** Training curves of the plateau-ruled trainings: the watched objective per epoch and where phases ended. */
export function plateauCurves(out: string, trainings: readonly ResolvedCell[]): { key: string; objective: string; values: number[]; plateauEpochs: number[]; converged: boolean }[] {
  return trainings
    .filter((t) => t.cell.kind === 'defense' && (t.settings as { config: DefenseConfig }).config.plateau !== undefined)
    .map((t) => {
      const rule = (t.settings as { config: DefenseConfig }).config.plateau!;
      const values = epochObjectives(cellDir(out, t.key), rule.objective);
      const s = plateauState(values, rule);
      return { key: t.key, objective: rule.objective, values, plateauEpochs: [...s.plateauEpochs], converged: s.converged };
    })
    .filter((c) => c.values.length > 0);
}

export const VALIDITY_TITLE = 'Baseline validity: does each pre-processor do its own job?';
export const VALIDITY_NOTE = `OBL: PGD examples made against the target T alone (the pre-processor unknown to the attacker), scored on T and on the full model F; gain = F − T on the same images, pooled over seeds, with a 95 % interval. Identity distance: mean |P(x) − x| (0–1 scale) on natural inputs and on the OBL examples; ratio = the latter / the attack's mean |x_adv − x|. Marks: gain interval reaching 0 ("within noise") or wholly below it ("negative"), ratio < ${NEAR_IDENTITY_RATIO} ("near identity"), a seed stopped at the epoch cap before its last plateau ("no plateau"). A claim resting on a marked pre-processor compares against a baseline that is not doing its job.`;
export const VALIDITY_HEADERS = ['pre-processor', 'seeds done', 'T on OBL %', 'F on OBL %', 'gain (points, 95 % CI)', 'gain per seed', '|P(x)−x| natural', '|P(x)−x| adversarial', 'ratio to |x_adv−x|', 'plateau reached (epochs)', 'marks'];

/** One row of the validity table (also the HTML report's). */
export function validityRow(v: ValidityRecord): string[] {
  const g = v.obliviousGain;
  const plateau = v.plateauReached.map((r, i) => (r === null ? '–' : `${r ? 'yes' : 'no'} (${v.epochs[i] ?? '?'})`)).join(', ');
  return [
    v.preprocessor,
    `${v.seedsDone}/${v.seeds}`,
    fmt(v.targetObliviousAccuracy, 1),
    fmt(v.fullObliviousAccuracy, 1),
    g ? `${signed(g.points)} [${g.lo.toFixed(1)}, ${g.hi.toFixed(1)}] (n ${g.n})` : '–',
    v.gainPerSeed.map((x) => (x === null ? '–' : x.toFixed(1))).join(', '),
    fmt(v.identityNatural, 4),
    fmt(v.identityAdversarial, 4),
    fmt(v.identityRatio, 2),
    plateau,
    v.marks.join('; '),
  ];
}

/**
 * The marks a table row's comparisons carry: a row's pre-processor ('APE-G' in Table 1, 'APE-G (Obl)' in
 * Fig. 2(a)) gets the validity marks of the trainings its evaluation cells use, so that Table 1 (TRADES
 * target) does not carry the marks of the same method trained against the Standard target for Fig. 1.
 * Without cells (or without the record's trainings), every record of the row applies, each named with
 * its target.
 */
export function validityMarks(records: readonly ValidityRecord[]): RowMarks {
  return (row, cells) =>
    records
      .filter((v) => [row, `${row} (Obl)`].includes(v.preprocessor.split(' → ')[0]!))
      // Records stored before `trainings` existed cannot be matched to cells: they apply to the row.
      .filter((v) => cells.length === 0 || !v.trainings?.length || v.trainings.some((t) => cells.some((c) => evalUsesDefense(c, t))))
      .flatMap((v) => v.marks.map((m) => `${m} (${v.preprocessor.slice(v.preprocessor.indexOf(' → ') + 3)} target)`));
}

/** The validity table in markdown, one row per pre-processor (the report's and the docs' blocks). */
export function validityMarkdown(records: readonly ValidityRecord[]): string {
  // '|' inside a Markdown table cell must be escaped (the distance headers are |P(x) − x|).
  const md = (c: string): string => c.replace(/\|/g, '\\|');
  const lines = [`| ${VALIDITY_HEADERS.map(md).join(' | ')} |`, `|${VALIDITY_HEADERS.map((_, i) => (i === 0 || i === VALIDITY_HEADERS.length - 1 ? '---' : '---:')).join('|')}|`];
  for (const v of records) lines.push(`| ${validityRow(v).map((c, i) => md(i === VALIDITY_HEADERS.length - 1 && c ? `**${c}**` : c)).join(' | ')} |`);
  return lines.join('\n');
}

const fmt = (v: number | undefined, digits = 2): string => (v === undefined ? '–' : v.toFixed(digits));
const signed = (v: number | undefined): string => (v === undefined ? '' : `${v >= 0 ? '+' : ''}${v.toFixed(2)}`);
