/**
 * Attack names with budgets, as written on the command line (`--attacks pgd40,dlr40,aa,fwa20,tibim,bpda`,
 * `--eps 8/255`), parsed into specs and built into Attack objects. One table (ATTACK_FAMILIES) holds every
 * family, its budget's meaning and default, so the CLI help, the parser and the builder cannot disagree.
 *
 * - pgd<steps>      L∞ PGD, CE, step 0.01 (spec §5.1), e.g. pgd40, pgd20
 * - dlr<steps>      L∞ PGD with the DLR loss, step 0.007 (spec §5.2), e.g. dlr40
 * - apgd-ce[<n>]    APGD-CE, n iterations (default 100)
 * - apgd-t[<n>]     APGD-T, 9 targets, n iterations (default 100)
 * - aa              AutoAttack standard (no budget)
 * - fab-t[<n>]      FAB-T, n iterations (default 100)
 * - square<q>       Square, q queries (default 5000), e.g. square5000
 * - fwa[<steps>]    Wasserstein attack (projected gradient + dual projection, spec §5.4; default 20)
 * - tibim[<steps>]  TI-BIM, step 0.007 (default 40)
 * - bpda[<steps>]   PGD (spec §5.1 settings, default 40 steps) run through the BPDA model; the spec
 *                   carries `bpda: true` and the caller (eval command) builds the BPDA model.
 *
 * Usage:
 *   const specs = parseAttackList('pgd40,dlr40,aa');        // AttackSpec[]
 *   const attack = buildAttack(specs[0]!, { eps: parseEps('8/255') });
 */
import type { Attack } from './types.js';
import { type BallNorm } from './ball-and-losses.js';
import { pgd, pgdDlr } from './pgd.js';
import { apgdCe, apgdT } from './apgd.js';
import { autoAttack } from './autoattack.js';
import { square } from './square.js';
import { fabT } from './fab.js';
import { fwa } from './fwa.js';
import { tiBim } from './tibim.js';

/** Attack families that the attack names of the CLI (`--attacks`) and `parseAttackSpec` know. */
export type AttackFamily = 'pgd' | 'dlr' | 'apgd-ce' | 'apgd-t' | 'aa' | 'fab-t' | 'square' | 'fwa' | 'tibim' | 'bpda';

interface FamilyInfo {
  /** What the number after the name counts; undefined: the family takes no budget. */
  readonly budget?: 'steps' | 'iterations' | 'queries';
  /** Budget when the name has no number; undefined: a number is required. */
  readonly defaultBudget?: number;
  readonly example: string;
}

/** Each family's budget (what its number counts) and default budget: the table behind parsing, building and help. */
export const ATTACK_FAMILIES: Readonly<Record<AttackFamily, FamilyInfo>> = {
  pgd: { budget: 'steps', example: 'pgd40' },
  dlr: { budget: 'steps', example: 'dlr40' },
  'apgd-ce': { budget: 'iterations', defaultBudget: 100, example: 'apgd-ce' },
  'apgd-t': { budget: 'iterations', defaultBudget: 100, example: 'apgd-t' },
  aa: { example: 'aa' },
  'fab-t': { budget: 'iterations', defaultBudget: 100, example: 'fab-t' },
  square: { budget: 'queries', defaultBudget: 5000, example: 'square5000' },
  fwa: { budget: 'steps', defaultBudget: 20, example: 'fwa20' },
  tibim: { budget: 'steps', defaultBudget: 40, example: 'tibim' },
  bpda: { budget: 'steps', defaultBudget: 40, example: 'bpda' },
};

/** A parsed attack name such as `pgd40` (family, budget, BPDA flag); `buildAttack(spec, { eps })` makes the Attack. */
export interface AttackSpec {
  /** As written, e.g. 'pgd40'. */
  readonly text: string;
  readonly family: AttackFamily;
  /** Steps / iterations / queries; undefined for families without a budget (aa). */
  readonly budget?: number;
  /** Run through the BPDA model (identity backward through the pre-processor, spec §5.6). */
  readonly bpda: boolean;
}

/** One line per family, for error messages and `--help`. */
export function validAttackForms(): string {
  return (Object.keys(ATTACK_FAMILIES) as AttackFamily[])
    .map((f) => {
      const info = ATTACK_FAMILIES[f];
      if (!info.budget) return f;
      const form = info.defaultBudget === undefined ? `${f}<${info.budget}>` : `${f}[<${info.budget}>]`;
      return `${form} (e.g. ${info.example})`;
    })
    .join(', ');
}

/** Parse one attack name with its budget, e.g. 'pgd40', 'square5000', 'aa', 'tibim'. */
export function parseAttackSpec(text: string): AttackSpec {
  const trimmed = text.trim().toLowerCase();
  const families = (Object.keys(ATTACK_FAMILIES) as AttackFamily[]).sort((a, b) => b.length - a.length);
  const family = families.find((f) => trimmed.startsWith(f));
  const invalid = (why: string): Error =>
    new Error(`--attacks: '${text}' ${why}; valid attacks: ${validAttackForms()}`);
  if (!family) throw invalid('is not a known attack');
  const info = ATTACK_FAMILIES[family];
  const rest = trimmed.slice(family.length);
  if (rest === '') {
    if (info.budget && info.defaultBudget === undefined) throw invalid(`needs a number of ${info.budget}`);
    return { text, family, budget: info.defaultBudget, bpda: family === 'bpda' };
  }
  if (!info.budget) throw invalid('takes no budget');
  if (!/^[0-9]+$/.test(rest)) throw invalid(`has a malformed budget '${rest}' (expected a positive integer number of ${info.budget})`);
  const budget = Number(rest);
  if (!Number.isSafeInteger(budget) || budget < 1) throw invalid(`has a malformed budget '${rest}' (expected a positive integer)`);
  return { text, family, budget, bpda: family === 'bpda' };
}

/** Parse a comma-separated list, e.g. 'pgd40,dlr40,aa,fwa20,tibim,bpda'. */
export function parseAttackList(text: string): AttackSpec[] {
  const parts = text.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (parts.length === 0) throw new Error(`--attacks: empty list; valid attacks: ${validAttackForms()}`);
  return parts.map(parseAttackSpec);
}

/**
 * Parse a budget like '8/255', '0.1' or '0.031372549' into a number in [0, 1].
 * `flag` names the option in the error message.
 */
export function parseEps(text: string, flag = '--eps'): number {
  const s = text.trim();
  const fraction = /^([0-9]*\.?[0-9]+(?:e-?[0-9]+)?)\s*\/\s*([0-9]*\.?[0-9]+)$/i.exec(s);
  let value: number;
  if (fraction) {
    const denominator = Number(fraction[2]);
    if (denominator === 0) throw new Error(`${flag}: '${text}' divides by zero; expected e.g. 8/255 or 0.03`);
    value = Number(fraction[1]) / denominator;
  } else if (/^[0-9]*\.?[0-9]+(?:e-?[0-9]+)?$/i.test(s)) {
    value = Number(s);
  } else {
    throw new Error(`${flag}: '${text}' is not a number or fraction; expected e.g. 8/255 or 0.03`);
  }
  if (!Number.isFinite(value) || value < 0 || value > 1) {
    throw new Error(`${flag}: '${text}' = ${value} is outside [0, 1] (pixel units of images in [0,1])`);
  }
  return value;
}

/** What `buildAttack` needs besides the spec: ε and the norm (default L∞). */
export interface BuildContext {
  readonly eps: number;
  /** Norm of the ball for the gradient attacks (default 'Linf'). */
  readonly norm?: BallNorm;
}

/**
 * Throws unless `spec` can run under `norm`. Square, FAB-T and TI-BIM are implemented for L∞ only;
 * FWA has its own (Wasserstein) threat model and would ignore an L2 ball, so a report headed
 * "L2 eps" would mislabel it.
 */
export function checkAttackNorm(spec: AttackSpec, norm: BallNorm): void {
  if (norm === 'Linf') return;
  if (spec.family === 'fwa') {
    throw new Error(`--norm ${norm}: attack '${spec.text}' has its own Wasserstein budget (--eps as a fraction of the image mass), not an ${norm} ball; run it under --norm Linf`);
  }
  if (spec.family === 'square' || spec.family === 'fab-t' || spec.family === 'tibim') {
    throw new Error(`--norm ${norm}: attack '${spec.text}' supports only Linf; L2 works with pgd, dlr, apgd-ce, apgd-t, aa (APGD stages only) and bpda`);
  }
}

/**
 * The Attack for a spec with the paper's settings (spec §5). For `bpda` this is PGD with spec §5.1
 * settings: the caller must run it on the BPDA model (see bpda.ts), as the spec's `bpda` flag says.
 */
export function buildAttack(spec: AttackSpec, context: BuildContext): Attack {
  const eps = context.eps;
  const norm = context.norm ?? 'Linf';
  checkAttackNorm(spec, norm);
  switch (spec.family) {
    case 'pgd':
    case 'bpda':
      return pgd({ eps, norm, steps: spec.budget });
    case 'dlr':
      return pgdDlr({ eps, norm, steps: spec.budget });
    case 'apgd-ce':
      return apgdCe({ eps, norm, nIter: spec.budget });
    case 'apgd-t':
      return apgdT({ eps, norm, nIter: spec.budget });
    case 'aa':
      return autoAttack({ eps, norm });
    case 'square':
      return square({ eps, nQueries: spec.budget });
    case 'tibim':
      return tiBim({ eps, steps: spec.budget });
    case 'fab-t':
      return fabT({ eps, nIter: spec.budget });
    case 'fwa':
      // Wasserstein budget: the same number as --eps (spec A17: eps_W = 8/255 of the total mass).
      return fwa({ eps, steps: spec.budget });
  }
}
