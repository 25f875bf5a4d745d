/**
 * Command-line values parsed once for every `jatp` command. Each parser takes the flag's name and
 * the text the user typed, and either returns the value or throws one kind of error:
 *
 *   --epochs: '0' is not an integer >= 1
 *   --eps: '8/0' divides by zero; expected a number in [0, 1] such as 0.03 or 8/255
 *
 * i.e. `<flag>: '<text>' <what is wrong>; expected ...` or `<flag>: '<text>' is not <expected>`,
 * so a script or a person sees at once which flag is wrong and what it takes.
 */
import { threatModelOf } from '../index.js';

export interface NumberRule {
  /** Smallest accepted value (inclusive). */
  readonly min?: number;
  /** Values must be strictly greater than this (e.g. 0 for a learning rate). */
  readonly above?: number;
  /** Largest accepted value (inclusive). */
  readonly max?: number;
  /** Only safe integers. */
  readonly integer?: boolean;
}

// Plain decimal notation only: Number() would also take '0x10', 'Infinity' and '' (as 0).
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i;

/** What a rule accepts, in words: "an integer >= 1", "a number > 0", "a number in [0, 1]". */
export function describeRule(rule: NumberRule = {}): string {
  const kind = rule.integer === true ? 'an integer' : 'a number';
  const low = rule.above !== undefined ? { bound: rule.above, open: true } : rule.min !== undefined ? { bound: rule.min, open: false } : undefined;
  if (low !== undefined && rule.max !== undefined) return `${kind} in ${low.open ? '(' : '['}${low.bound}, ${rule.max}]`;
  if (low !== undefined) return `${kind} ${low.open ? '>' : '>='} ${low.bound}`;
  if (rule.max !== undefined) return `${kind} <= ${rule.max}`;
  return kind;
}

function checkRule(flag: string, text: string, value: number, rule: NumberRule): number {
  const ok =
    Number.isFinite(value) &&
    (rule.integer !== true || Number.isSafeInteger(value)) &&
    (rule.min === undefined || value >= rule.min) &&
    (rule.above === undefined || value > rule.above) &&
    (rule.max === undefined || value <= rule.max);
  if (!ok) throw new Error(`${flag}: '${text}' is not ${describeRule(rule)}`);
  return value;
}

/** A decimal number ('3', '0.1', '5e-4') within `rule`. */
export function parseNumber(flag: string, text: string, rule: NumberRule = {}): number {
  const t = text.trim();
  if (!DECIMAL.test(t)) throw new Error(`${flag}: '${text}' is not ${describeRule(rule)}`);
  return checkRule(flag, text, Number(t), rule);
}

/** Shorthand for `parseNumber` with `integer: true` (default: >= 0). */
export function parseInteger(flag: string, text: string, rule: Omit<NumberRule, 'integer'> = { min: 0 }): number {
  return parseNumber(flag, text, { ...rule, integer: true });
}

/** A decimal number or a fraction of two ('8/255', '2/255'), within `rule`; '8/0' is refused. */
export function parseFraction(flag: string, text: string, rule: NumberRule = {}): number {
  const t = text.trim();
  const slash = t.indexOf('/');
  if (slash < 0) return parseNumber(flag, text, rule);
  const [num, den] = [t.slice(0, slash).trim(), t.slice(slash + 1).trim()];
  const example = rule.integer === true ? '' : ' such as 0.03 or 8/255';
  if (!DECIMAL.test(num) || !DECIMAL.test(den)) throw new Error(`${flag}: '${text}' is not ${describeRule(rule)}${example}`);
  if (Number(den) === 0) throw new Error(`${flag}: '${text}' divides by zero; expected ${describeRule(rule)}${example}`);
  return checkRule(flag, text, Number(num) / Number(den), rule);
}

export interface EpsRule {
  /** Refuse 0 (a training attack needs a budget). Default false. */
  readonly positive?: boolean;
  /** Largest budget. Default 1: L∞ budgets are in pixel units of images in [0, 1]. */
  readonly max?: number;
}

/** A perturbation budget: '0.03', '8/255'; by default in [0, 1] (pixel units of images in [0, 1]). */
export function parseEps(flag: string, text: string, rule: EpsRule = {}): number {
  const max = rule.max ?? 1;
  const numberRule: NumberRule = rule.positive === true ? { above: 0, max } : { min: 0, max };
  try {
    return parseFraction(flag, text, numberRule);
  } catch (err) {
    // '--eps 8' is almost always 8/255 typed in 0-255 pixel units.
    const value = Number(text.trim());
    if (max === 1 && Number.isFinite(value) && value > 1 && value <= 255) {
      throw new Error(`${(err as Error).message}; did you mean ${text.trim()}/255 (budgets are in pixel units of images in [0, 1])?`);
    }
    throw err;
  }
}

/** Default L∞ budget of a dataset: its threat model's (data/threat-model.ts). */
export function defaultEps(dataset: string): number {
  return threatModelOf(dataset).eps;
}

/**
 * `--eps` under a norm: L∞ budgets are in [0, 1]; L2 budgets in [0, sqrt(H·W·C)] (the distance
 * between an all-black and an all-white image of the dataset). Without `--eps`, the dataset's
 * default for that norm (data/threat-model.ts: L∞ 8/255 or 0.1, L2 0.5 or 1.5).
 */
export function parseNormEps(flag: string, text: string | undefined, norm: 'Linf' | 'L2', dataset: string): number {
  const threat = threatModelOf(dataset);
  if (norm === 'Linf') return text === undefined ? threat.eps : parseEps(flag, text);
  if (text === undefined) return threat.l2Eps;
  return parseEps(flag, text, { max: Math.floor(Math.sqrt(threat.inputSize) * 100) / 100 });
}

/** A comma-separated list, each item trimmed and parsed by `item`; an empty item is an error. */
export function parseList<T = string>(flag: string, text: string, item: (part: string) => T = (part) => part as unknown as T): T[] {
  const parts = text.split(',').map((p) => p.trim());
  if (parts.some((p) => p === '')) throw new Error(`${flag}: '${text}' has an empty item; expected a comma-separated list such as a,b`);
  return parts.map(item);
}

/**
 * Learning-rate milestones: '75:0.1,90:0.01' -> [[75, 0.1], [90, 0.01]] (x0.1 from 1-based epoch
 * 75 on, x0.01 from 90); 'none' or '' -> [] (constant rate). Epochs must increase.
 */
export function parseMilestones(text: string, flag = '--lr-milestones'): Array<[number, number]> {
  const t = text.trim();
  if (t === '' || t === 'none') return [];
  const expected = `<epoch>:<multiplier>, e.g. '75:0.1,90:0.01' (or 'none')`;
  const milestones = parseList(flag, t, (part): [number, number] => {
    const m = /^([^:]+):([^:]+)$/.exec(part);
    if (!m) throw new Error(`${flag}: '${part}' is not ${expected}`);
    return [parseNumber(`${flag} epoch`, m[1]!, { integer: true, min: 1 }), parseFraction(`${flag} multiplier`, m[2]!, { above: 0 })];
  });
  for (let i = 1; i < milestones.length; i++) {
    if (milestones[i]![0] <= milestones[i - 1]![0]) throw new Error(`${flag}: '${text}' has epochs out of order; expected increasing epochs, ${expected}`);
  }
  return milestones;
}

/** One of `choices`, e.g. `--augment: 'x' is not one of none, crop-flip`. */
export function parseChoice<T extends string>(flag: string, text: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(text)) throw new Error(`${flag}: '${text}' is not one of ${choices.join(', ')}`);
  return text as T;
}
