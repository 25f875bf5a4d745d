/**
 * Cells: the units of work of an experiment. A training cell (a target or a pre-processor) and an
 * evaluation cell (one attack on one full model) each own a run folder whose name ends in a hash of
 * the cell's resolved settings, so two experiments that need the same cell find the same folder and
 * the work is done once.
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import type { TargetConfig, TargetRecipeName } from '../../targets/presets.js';
import type { DefenseConfig, DefenseMethod } from '../../defenses/presets.js';
import { attackSpec, datasetEps, type Ablation, type AttackColumn, type ExampleKind, type ScaleSettings } from './scales.js';

export interface TargetCell {
  readonly kind: 'target';
  readonly recipe: TargetRecipeName;
  readonly seed: number;
}

export interface DefenseCell {
  readonly kind: 'defense';
  readonly method: DefenseMethod;
  /** Baselines: oblivious or full training examples (spec §4.4); undefined for JATP / JATP′. */
  readonly examples?: ExampleKind;
  readonly ablation: Ablation;
  /** The target the pre-processor is trained against. */
  readonly target: TargetCell;
  readonly seed: number;
}

export interface EvalCell {
  readonly kind: 'eval';
  /** The target placed behind the pre-processor (Table 2: not the one it was trained against). */
  readonly target: TargetCell;
  readonly defense?: DefenseCell;
  readonly attack: AttackColumn;
  readonly seed: number;
}

export type Cell = TargetCell | DefenseCell | EvalCell;

/** Where and at which scale cells are resolved. */
export interface GridContext {
  readonly scale: ScaleSettings;
  readonly dataset: string;
  /** Overrides the scale's number of test images. */
  readonly evalCount?: number;
}

export interface ResolvedCell<C extends Cell = Cell> {
  readonly cell: C;
  /** Everything the cell computes from, JSON-able; hashed into the key. */
  readonly settings: Record<string, unknown>;
  /** `<readable name>-<hash>`: the folder name under `cells/`. */
  readonly key: string;
  /** Training cells this one needs first. */
  readonly needs: ResolvedCell[];
}

function hash(settings: unknown): string {
  return createHash('sha256').update(JSON.stringify(settings)).digest('hex').slice(0, 10);
}

export const DEFENSE_LABELS: Readonly<Record<DefenseMethod, string>> = { jatp: 'JATP', 'jatp-joint': 'JATP′', apeg: 'APE-G', hgd: 'HGD', nrp: 'NRP' };
export const TARGET_LABELS: Readonly<Record<string, string>> = { trades: 'TRADES', standard: 'Standard', mma: 'MMA', mart: 'MART', natural: 'Natural', 'mma-original': 'MMA (original)' };
const ABLATION_LABELS: Readonly<Record<Ablation, string>> = { none: '', 'no-pixel': ' w/o Pix', 'no-bce': ' w/o BCE', 'no-fsm': ' w/o FSM' };

/** 'JATP', 'APE-G (Full)', 'JATP w/o BCE', 'None'. */
export function defenseLabel(d: DefenseCell | undefined, withExamples = false): string {
  if (!d) return 'None';
  const ex = withExamples && d.examples ? ` (${d.examples === 'obl' ? 'Obl' : 'Full'})` : '';
  return `${DEFENSE_LABELS[d.method]}${ex}${ABLATION_LABELS[d.ablation]}`;
}

export function resolveTarget(ctx: GridContext, cell: TargetCell): ResolvedCell<TargetCell> {
  const config: TargetConfig = ctx.scale.targetConfig(cell.recipe, ctx.dataset, cell.seed);
  const settings = { kind: 'target', scale: ctx.scale.name, dataset: ctx.dataset, config };
  return { cell, settings, key: `target-${cell.recipe}-s${cell.seed}-${hash(settings)}`, needs: [] };
}

export function resolveDefense(ctx: GridContext, cell: DefenseCell): ResolvedCell<DefenseCell> {
  const target = resolveTarget(ctx, cell.target);
  const config: DefenseConfig = ctx.scale.defenseConfig(cell.method, ctx.dataset, cell.examples, cell.ablation);
  const settings = { kind: 'defense', scale: ctx.scale.name, dataset: ctx.dataset, target: target.key, seed: cell.seed, config };
  const name = [cell.method, cell.examples, cell.ablation === 'none' ? undefined : cell.ablation].filter(Boolean).join('-');
  return { cell, settings, key: `defense-${name}-vs-${cell.target.recipe}-s${cell.seed}-${hash(settings)}`, needs: [target] };
}

export function resolveEval(ctx: GridContext, cell: EvalCell): ResolvedCell<EvalCell> {
  const target = resolveTarget(ctx, cell.target);
  const defense = cell.defense ? resolveDefense(ctx, cell.defense) : undefined;
  const spec = attackSpec(ctx.scale, cell.attack);
  const settings = {
    kind: 'eval',
    scale: ctx.scale.name,
    dataset: ctx.dataset,
    target: target.key,
    defense: defense?.key ?? null,
    attack: spec.text,
    n: ctx.evalCount ?? ctx.scale.evalCount ?? null,
    eps: datasetEps(ctx.dataset),
    norm: 'Linf',
    seed: cell.seed,
    // OBL: the same PGD, made against the target alone (a key of its own; other cells' keys unchanged).
    ...(cell.attack === 'OBL' ? { madeAgainst: 'target' } : {}),
  };
  const usedDefense = defense ? defenseName(defense.key) : 'none';
  return {
    cell,
    settings,
    key: `eval-${cell.attack.toLowerCase()}-${usedDefense}-on-${cell.target.recipe}-s${cell.seed}-${hash(settings)}`,
    needs: defense ? [target, defense] : [target],
  };
}

/** 'apeg-obl-vs-trades' from 'defense-apeg-obl-vs-trades-s0-1a4a33708a': the part an eval key repeats. */
function defenseName(defenseKey: string): string {
  return defenseKey.replace(/^defense-/, '').replace(/-s\d+-[0-9a-f]+$/, '');
}

/** Whether an eval cell key evaluates the pre-processor of a defense cell key (any seed). */
export function evalUsesDefense(evalKey: string, defenseKey: string): boolean {
  return evalKey.includes(`-${defenseName(defenseKey)}-on-`);
}

export function cellDir(outDir: string, key: string): string {
  return path.join(outDir, 'cells', key);
}
