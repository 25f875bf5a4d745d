/**
 * From experiment names to the deduplicated list of cells, in the order they can run: targets, then
 * pre-processors (each after its target), then evaluations. A cell two experiments share (the TRADES
 * target, JATP against it, PGD on None) appears once.
 */
import { EXPERIMENTS, type ExperimentName } from './declarations/index.js';
import type { Panel } from './declarations/types.js';
import { resolveEval, type DefenseCell, type EvalCell, type GridContext, type ResolvedCell } from './cells.js';
import type { AttackColumn } from './scales.js';

/** Evaluation order, by cost on the 2-core machine. */
const ATTACK_ORDER: readonly AttackColumn[] = ['PGD', 'OBL', 'BPDA', 'DLR', 'TI-BIM', 'FWA', 'AA'];

export interface Grid {
  readonly panels: { experiment: ExperimentName; panel: Panel }[];
  /** Training cells (targets first, then pre-processors), each once. */
  readonly trainings: ResolvedCell[];
  readonly evaluations: ResolvedCell[];
  /**
   * Per trained pre-processor, its OBL cell on the target it was trained against (the baseline-validity
   * check: oblivious gain and distance from the identity); also in `evaluations`.
   */
  readonly validity: ResolvedCell[];
}

export function seedList(seeds: number): number[] {
  return Array.from({ length: seeds }, (_, i) => i);
}

export function buildGrid(ctx: GridContext, experiments: readonly ExperimentName[], seeds: number): Grid {
  const panels = experiments.flatMap((name) => EXPERIMENTS[name].panels(seedList(seeds)).map((panel) => ({ experiment: name, panel })));
  const evaluations = new Map<string, ResolvedCell>();
  const targets = new Map<string, ResolvedCell>();
  const defenses = new Map<string, ResolvedCell>();
  for (const { panel } of panels) {
    for (const entry of panel.entries) {
      for (const cell of entry.cells) {
        const resolved = resolveEval(ctx, cell);
        if (evaluations.has(resolved.key)) continue;
        evaluations.set(resolved.key, resolved);
        for (const need of resolved.needs) {
          const into = need.cell.kind === 'target' ? targets : defenses;
          if (!into.has(need.key)) into.set(need.key, need);
          // A pre-processor's own target (Table 2 trains against TRADES, evaluates on others).
          for (const inner of need.needs) if (!targets.has(inner.key)) targets.set(inner.key, inner);
        }
      }
    }
  }
  // Every pre-processor gets its oblivious column, whether or not a panel shows it.
  const validity = [...defenses.values()].map((d) => {
    const cell = d.cell as DefenseCell;
    const resolved = resolveEval(ctx, { kind: 'eval', target: cell.target, defense: cell, attack: 'OBL', seed: cell.seed });
    if (!evaluations.has(resolved.key)) evaluations.set(resolved.key, resolved);
    return evaluations.get(resolved.key)!;
  });
  // Cheap attacks first, AutoAttack last: an experiment stopped early has most of its columns.
  const order = (c: ResolvedCell) => ATTACK_ORDER.indexOf((c.cell as EvalCell).attack);
  const sorted = [...evaluations.values()].map((c, i) => ({ c, i })).sort((a, b) => order(a.c) - order(b.c) || a.i - b.i).map((x) => x.c);
  return { panels, trainings: [...targets.values(), ...defenses.values()], evaluations: sorted, validity };
}

/** Only the evaluations of the given attack columns (run the cheap columns of every seed first). */
export function withAttacks(grid: Grid, attacks: readonly AttackColumn[] | undefined): Grid {
  if (attacks === undefined) return grid;
  return { ...grid, evaluations: grid.evaluations.filter((c) => attacks.includes((c.cell as EvalCell).attack)) };
}

/**
 * '*' in a cell pattern matches any run of characters; everything else is literal. A pattern must match
 * the whole key, so `eval-pgd-none-on-trades-*` does not also pick `eval-pgd-nrp-…-on-trades-…`.
 */
export function cellPatternMatcher(pattern: string): (key: string) => boolean {
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  const re = new RegExp(`^${source}$`);
  return (key) => re.test(key);
}

/**
 * Only the evaluations whose keys match one of `patterns`, and only the trainings those evaluations need
 * (a target a pre-processor was trained against included). For completing part of a figure, e.g. one
 * pre-processor's cells on the seeds another run did not finish, without training the rest of the grid.
 */
export function withCells(grid: Grid, patterns: readonly string[] | undefined): Grid {
  if (patterns === undefined) return grid;
  const matchers = patterns.map(cellPatternMatcher);
  const evaluations = grid.evaluations.filter((c) => matchers.some((m) => m(c.key)));
  // A pattern that picks nothing is a typo, not a request to run nothing.
  patterns.forEach((p, i) => {
    if (!grid.evaluations.some((c) => matchers[i]!(c.key))) {
      throw new Error(`--cells: '${p}' matches none of the ${grid.evaluations.length} evaluation cells (keys look like ${grid.evaluations[0]?.key ?? 'eval-pgd-none-on-trades-s0-<hash>'}; 'jatp experiment plan' lists them)`);
    }
  });
  const needed = new Set<string>();
  const visit = (c: ResolvedCell) => {
    for (const need of c.needs) {
      needed.add(need.key);
      visit(need);
    }
  };
  evaluations.forEach(visit);
  const kept = new Set(evaluations.map((c) => c.key));
  return {
    panels: grid.panels,
    trainings: grid.trainings.filter((c) => needed.has(c.key)),
    evaluations,
    validity: grid.validity.filter((c) => kept.has(c.key)),
  };
}
