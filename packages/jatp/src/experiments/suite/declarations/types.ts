/**
 * What an experiment declaration is: panels (a table or a figure of the paper), each a list of
 * entries (row, group, column, metric) pointing at an evaluation cell. The scheduler only sees the
 * cells; the report only sees the panels. Declarations are data: no training, no I/O.
 */
import type { DefenseMethod } from '../../../defenses/presets.js';
import type { TargetRecipeName } from '../../../targets/presets.js';
import type { DefenseCell, EvalCell, TargetCell } from '../cells.js';
import type { Ablation, AttackColumn, ExampleKind } from '../scales.js';

/** clean / robust accuracy, fooling rate (spec A19: % of all points misclassified after the attack), Fig. 2(b) L1. */
export type Metric = 'clean' | 'robust' | 'fooling' | 'l1-adv' | 'l1-purified';

export interface Entry {
  readonly row: string;
  /** A column group, e.g. the target model in Table 2. */
  readonly group?: string;
  readonly column: string;
  readonly metric: Metric;
  /** One evaluation cell per seed. */
  readonly cells: readonly EvalCell[];
}

export type ChartKind = 'grouped-bars' | 'l1-bars' | 'fooling-bars' | 'ablation-bars';

export interface Panel {
  /** 'table1', 'fig1', 'fig2a', 'fig2b', ... (also the HTML anchor). */
  readonly id: string;
  readonly title: string;
  /** What the paper shows here, in one sentence (spec §6). */
  readonly paperClaim: string;
  readonly chart: ChartKind;
  readonly entries: readonly Entry[];
  readonly note?: string;
}

/** The paper's experiments (`all` runs these). */
export const EXPERIMENT_NAMES = ['table1', 'table2', 'fig1', 'fig4a', 'fig4b'] as const;
/** Experiments outside `all` (the README's quick start). */
export const EXTRA_EXPERIMENT_NAMES = ['quickstart'] as const;
/** The name of an experiment declaration. */
export type ExperimentName = (typeof EXPERIMENT_NAMES)[number] | (typeof EXTRA_EXPERIMENT_NAMES)[number];

export interface ExperimentDeclaration {
  readonly name: ExperimentName;
  readonly title: string;
  panels(seeds: readonly number[]): Panel[];
}

export const target = (recipe: TargetRecipeName, seed: number): TargetCell => ({ kind: 'target', recipe, seed });

export function defense(
  method: DefenseMethod,
  against: TargetRecipeName,
  seed: number,
  opts: { examples?: ExampleKind; ablation?: Ablation } = {},
): DefenseCell {
  const baseline = method === 'apeg' || method === 'hgd' || method === 'nrp';
  return {
    kind: 'defense',
    method,
    ...(baseline ? { examples: opts.examples ?? 'obl' } : {}),
    ablation: opts.ablation ?? 'none',
    target: target(against, seed),
    seed,
  };
}

/** One entry per metric column, one cell per seed; Natural reads the clean accuracy of `cleanFrom`'s cell. */
export function entries(
  seeds: readonly number[],
  row: string,
  group: string | undefined,
  columns: readonly string[],
  cellFor: (attack: AttackColumn, seed: number) => EvalCell,
  opts: { metric?: Metric; cleanFrom?: AttackColumn } = {},
): Entry[] {
  return columns.map((column) => {
    const natural = column === 'Natural';
    const attack = (natural ? (opts.cleanFrom ?? 'PGD') : column) as AttackColumn;
    return {
      row,
      ...(group !== undefined ? { group } : {}),
      column,
      metric: natural ? 'clean' : (opts.metric ?? 'robust'),
      cells: seeds.map((s) => cellFor(attack, s)),
    };
  });
}

export const evalCell = (t: TargetCell, d: DefenseCell | undefined, attack: AttackColumn, seed: number): EvalCell => ({
  kind: 'eval',
  target: t,
  ...(d ? { defense: d } : {}),
  attack,
  seed,
});
