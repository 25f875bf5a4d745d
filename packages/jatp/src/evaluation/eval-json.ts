/**
 * The eval JSON: the document `jatp eval --json` writes, the experiment suite writes as each cell's
 * `eval.json`, and `jatp report` and the suite's report read back. One type, one writer, one reader
 * and the human text table, so the producers and the readers cannot drift apart.
 */
import * as fs from 'node:fs';
import { writeFileAtomicSync } from '../io/atomic-write.js';
import type { EvaluationReport } from './evaluate.js';
import { squareAfterGradientCheck, type SquareCheck } from './square-check.js';

/** Which full model was evaluated on which data (printed above the table, kept in the JSON). */
export interface EvaluatedDescription {
  readonly model: string;
  readonly preprocessor?: string;
  readonly dataset: string;
}

/** The leaderboard-style block (RobustBench's fields) plus what a purification defense needs said. */
export interface LeaderboardEntry {
  readonly dataset: string;
  readonly threat_model: string;
  readonly eps: number;
  readonly n_examples: number;
  readonly clean_acc: number;
  readonly autoattack_acc: number | null;
  readonly union_acc: number;
  readonly architecture: string | undefined;
  readonly forward_passes: number;
  readonly preprocessor: string | null;
  readonly gradient_mode: Record<string, 'bpda' | 'full'>;
  readonly eot_draws: number;
  readonly randomized: boolean;
  readonly decision_passes: number;
}

/** An eval JSON: the description, the backend and `evaluate`'s report, plus what its writer adds. */
export interface EvalJson extends EvaluatedDescription, EvaluationReport {
  readonly backend: string;
  /** `jatp eval`: the --attacks text as given, and the leaderboard block. */
  readonly attacksRequested?: string;
  readonly leaderboard?: LeaderboardEntry;
  /** `jatp eval` with AutoAttack: its Square-after-gradient check per AutoAttack run (square-check.ts). */
  readonly squareAfterGradient?: readonly ({ readonly attack: string } & SquareCheck)[];
  /** Suite cells: the cell key, its settings, and when and how long it ran. */
  readonly key?: string;
  readonly settings?: unknown;
  readonly wallSeconds?: number;
  readonly finishedAt?: string;
}

/** Everything `jatp eval` records beside the report. */
export interface EvalContext {
  readonly describe: EvaluatedDescription;
  readonly backend: string;
  /** The --attacks text as given. */
  readonly attacksRequested?: string;
}

/** The leaderboard block of a report; `identity.model` (the classifier's identity) names the architecture. */
export function leaderboardEntry(report: EvaluationReport, describe: EvaluatedDescription, identity: Readonly<Record<string, string>>): LeaderboardEntry {
  const aa = report.attacks.find((a) => a.attack === 'aa');
  return {
    dataset: describe.dataset,
    threat_model: report.norm,
    eps: report.eps,
    n_examples: report.n,
    clean_acc: report.cleanAccuracy,
    autoattack_acc: aa ? aa.robustAccuracy : null,
    union_acc: report.unionRobustAccuracy,
    architecture: (identity.model ?? describe.model).split(' ')[0],
    forward_passes: report.forwardPasses,
    preprocessor: describe.preprocessor ?? null,
    gradient_mode: Object.fromEntries(report.attacks.map((a) => [a.attack, a.bpda ? 'bpda' : 'full'])),
    eot_draws: report.eotDraws,
    randomized: report.randomized,
    decision_passes: report.decisionPasses,
  };
}

/** The `jatp eval --json` document: the same for an unsharded run, a resumed one and merged shards. */
export function cliEvalJson(report: EvaluationReport, context: EvalContext, identity: Readonly<Record<string, string>>): EvalJson {
  return {
    ...context.describe,
    backend: context.backend,
    attacksRequested: context.attacksRequested,
    ...report,
    leaderboard: leaderboardEntry(report, context.describe, identity),
    squareAfterGradient: squareChecks(report).map(({ attack, check }) => ({ attack, ...check })),
  };
}

/** AutoAttack's Square-after-gradient check of every attack of the report that ran AutoAttack's stages. */
export function squareChecks(report: EvaluationReport): { attack: string; check: SquareCheck }[] {
  return report.attacks.flatMap((a) => {
    const check = squareAfterGradientCheck(a.stages, report.n);
    return check ? [{ attack: a.attack, check }] : [];
  });
}

/** The file's text: one line of JSON (every double in its shortest round-trip form). */
export function evalJsonText(doc: EvalJson): string {
  return `${JSON.stringify(doc)}\n`;
}

/** Writes an eval JSON atomically. */
export function writeEvalJson(file: string, doc: EvalJson): void {
  writeFileAtomicSync(file, evalJsonText(doc));
}

/** Reads an eval JSON; throws naming the file when it is not one. */
export function readEvalJson(file: string): EvalJson {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: not a readable JSON file (${(err as Error).message})`);
  }
  const r = parsed as Partial<EvalJson>;
  if (typeof r.cleanAccuracy !== 'number' || !Array.isArray(r.attacks)) {
    throw new Error(`${file}: not a 'jatp eval --json' report (expected "cleanAccuracy" and "attacks")`);
  }
  return r as EvalJson;
}

function pct(v: number): string {
  return `${(100 * v).toFixed(2)}%`;
}

/** The human table of a report (what `jatp eval` prints to stdout). */
export function formatReport(report: EvaluationReport, describe: EvaluatedDescription): string {
  const lines: string[] = [];
  lines.push(`model:        ${describe.model}`);
  if (describe.preprocessor) lines.push(`preprocessor: ${describe.preprocessor}`);
  lines.push(`data:         ${describe.dataset}, n = ${report.n}, ${report.norm} eps = ${report.eps.toFixed(5)}`);
  if (report.shard) lines.push(`shard:        ${report.shard.index + 1}/${report.shard.count} (test images from index ${report.shard.firstIndex})`);
  if (report.randomized) lines.push(`randomized:   yes; each decision is the worst case of ${report.decisionPasses} forward passes`);
  if (report.eotDraws > 1) lines.push(`eot:          every attack loss / gradient averaged over ${report.eotDraws} draws`);
  lines.push('');
  const rows: string[][] = [['attack', 'accuracy', 'L1 adv-nat', 'L1 purified-nat', 'seconds']];
  rows.push(['natural', pct(report.cleanAccuracy), '', '', '']);
  for (const a of report.attacks) {
    rows.push([
      a.attack + (a.bpda && a.attack !== 'bpda' ? ' (bpda)' : ''),
      pct(a.robustAccuracy),
      a.meanL1AdvVsNatural.toFixed(2),
      a.meanL1PurifiedVsNatural === undefined ? '-' : a.meanL1PurifiedVsNatural.toFixed(2),
      a.seconds.toFixed(1),
    ]);
    for (const s of a.stages ?? []) rows.push([`  after ${s.name}`, pct(s.robustAccuracy), '', '', '']);
  }
  if (report.attacks.length > 1) rows.push(['union of attacks', pct(report.unionRobustAccuracy), '', '', '']);
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const r of rows) lines.push(r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '));
  lines.push('');
  lines.push('L1 columns: mean |x_adv - x| and mean |clip01(P(x_adv)) - x| per element, 0-255 scale (paper Fig. 2b).');
  if (report.attacks.length > 1) lines.push('union of attacks: an example counts as robust only if no attack fooled it (the headline number).');
  for (const { attack, check } of squareChecks(report)) lines.push(check.warn ? `WARNING (${attack}): ${check.message}` : `${attack} check: ${check.message}`);
  return lines.join('\n');
}
