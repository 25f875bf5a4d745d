/**
 * Numbers in README.md and docs/ are generated, never copied by hand: a block between
 *
 *     <!-- numbers <results.json path> <what> -->
 *     ...
 *     <!-- /numbers -->
 *
 * is rewritten from the committed results file it names (`scripts/docs-numbers.ts`; a test checks that
 * every marked block equals what this module gives). <what> is `table <panel id> [row,row,...]` (the
 * panel's table, or some of its rows: value, ± sd over seeds, Wilson 95 % interval), `verdicts` (the verdict summary per statement of the
 * paper), `comparisons` (every judged comparison with its effect, interval and p), `validity` (each pre-processor's validity
 * record) or `source` (one line: scale, data, images, seeds, machine and dates of the run).
 *
 * Verdicts are re-judged here from the per-image outcomes kept with the results (`outcomes` in
 * results.json, or an `outcomes.json` sidecar of '0'/'1' strings); results committed before outcomes
 * were kept give "not judged".
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Metric } from './declarations/types.js';
import { pooledWilson } from './collect.js';
import { decodeBits, type StoredOutcomes } from './outcomes.js';
import { comparisonRow, COMPARISON_HEADER, judgeClaimsFromStored, statementVerdict, summarizeFamilies, type ClaimResult, type EntryCells } from './verdicts.js';
import { validityMarkdown, validityMarks, type ValidityRecord } from './validity.js';

/** An entry of results.json as far as the docs read it. */
export interface ResultsEntry extends EntryCells {
  readonly experiment: string;
  readonly metric: Metric;
  readonly values: (number | null)[];
  readonly mean?: number;
  readonly std?: number;
  readonly n?: (number | null)[];
}

export interface ResultsFile {
  readonly scale: string;
  readonly dataset: string;
  readonly datasetLabel?: string;
  readonly seeds: number;
  readonly experiments: readonly string[];
  readonly results: readonly ResultsEntry[];
  readonly evaluations?: readonly { key: string; n?: number; done?: boolean }[];
  readonly outcomes?: Readonly<Record<string, StoredOutcomes>>;
  /** Written by reports since the validity records: per pre-processor, oblivious gain, identity distance, plateau. */
  readonly validity?: readonly ValidityRecord[];
  /** Written by newer reports: where and when the report was built (commit, CPU, date, engine). */
  readonly provenance?: RunProvenance;
  /** Written by newer reports: each invocation that computed cells, with its own provenance. */
  readonly runs?: readonly { readonly started?: string; readonly finished?: string; readonly provenance?: RunProvenance }[];
}

/** The fields of a provenance record the docs name (tfjs-backend-torch/provenance writes more). */
export interface RunProvenance {
  readonly commit?: string;
  readonly date?: string;
  readonly cpuModel?: string;
  readonly cpus?: number;
}

export interface LoadedResults {
  readonly file: string;
  readonly data: ResultsFile;
  readonly outcomes: Readonly<Record<string, StoredOutcomes>>;
  /** 'machine …, runs 2026-12-01 to 2026-12-01' from results.json, else from the report's index.html beside it. */
  readonly provenance: string;
}

/** A sidecar record of '0'/'1' strings (one character per image) in the stored (base64) form. */
function fromBitStrings(record: Readonly<Record<string, string>>): StoredOutcomes | undefined {
  const clean = record['clean'];
  const robust = record['robust'];
  if (clean === undefined || robust === undefined || clean.length !== robust.length || !/^[01]*$/.test(clean + robust)) return undefined;
  const pack = (s: string) => {
    const bytes = new Uint8Array(Math.ceil(s.length / 8));
    for (let i = 0; i < s.length; i++) if (s[i] === '1') bytes[i >> 3]! |= 1 << (i & 7);
    return Buffer.from(bytes).toString('base64');
  };
  return { n: clean.length, clean: pack(clean), robust: pack(robust) };
}

const day = (iso: string | undefined): string | undefined => iso?.slice(0, 10);

function provenanceOf(file: string, data: ResultsFile): string {
  // The runs that computed the cells say where and when the numbers were made; the report's own
  // provenance only where and when it was built.
  const recorded = (data.runs ?? []).map((r) => r.provenance).filter((p): p is RunProvenance => p !== undefined);
  const from = recorded.length ? recorded : data.provenance ? [data.provenance] : [];
  if (from.length) {
    const machines = [...new Set(from.map((p) => `${p.cpuModel ?? 'unknown CPU'}${p.cpus !== undefined ? ` × ${p.cpus}` : ''}`))];
    const days = [...new Set(from.map((p) => day(p.date)).filter((d): d is string => d !== undefined))].sort();
    const commits = [...new Set(from.map((p) => p.commit?.slice(0, 10)).filter((c): c is string => c !== undefined))];
    const when = days.length ? (days.length === 1 ? days[0] : `${days[0]} to ${days[days.length - 1]}`) : 'dates not recorded';
    return `${recorded.length ? 'runs' : 'report built'} on ${machines.join(' and ')}, ${when}${commits.length ? `, commit ${commits.join(', ')}` : ''}`;
  }
  const html = path.join(path.dirname(file), 'index.html');
  if (!fs.existsSync(html)) return 'machine and dates not recorded';
  const text = fs.readFileSync(html, 'utf8');
  const machine = /Machine \(of this report's build\): ([^<]*?)\.?</.exec(text)?.[1];
  const dates = [...text.matchAll(/<td>(\d{4}-\d{2}-\d{2})T[\d:.]+Z<\/td>/g)].map((m) => m[1]!).sort();
  const when = dates.length ? (dates[0] === dates[dates.length - 1] ? dates[0] : `${dates[0]} to ${dates[dates.length - 1]}`) : undefined;
  return [machine ? `machine: ${machine}` : 'machine not recorded', when ? `runs of ${when}` : 'dates not recorded'].join(', ');
}

export function loadResults(file: string): LoadedResults {
  if (!fs.existsSync(file)) throw new Error(`docs-numbers: ${file} does not exist`);
  const data = JSON.parse(fs.readFileSync(file, 'utf8')) as ResultsFile;
  if (!Array.isArray(data.results)) throw new Error(`docs-numbers: ${file} has no 'results' list (not a report's results.json)`);
  let outcomes: Record<string, StoredOutcomes> = { ...(data.outcomes ?? {}) };
  const sidecar = path.join(path.dirname(file), 'outcomes.json');
  if (Object.keys(outcomes).length === 0 && fs.existsSync(sidecar)) {
    const raw = JSON.parse(fs.readFileSync(sidecar, 'utf8')) as Record<string, Record<string, string>>;
    outcomes = Object.fromEntries(Object.entries(raw).flatMap(([k, v]) => {
      const s = fromBitStrings(v);
      return s ? [[k, s] as const] : [];
    }));
  }
  return { file, data, outcomes, provenance: provenanceOf(file, data) };
}

/** Images per seed of an entry: its own `n`, else the evaluations list of the file. */
function entryN(r: ResultsEntry, data: ResultsFile): (number | null)[] {
  if (r.n) return r.n;
  return r.cells.map((k) => data.evaluations?.find((e) => e.key === k)?.n ?? null);
}

function valueText(r: ResultsEntry, data: ResultsFile): string {
  if (r.mean === undefined) return '–';
  const digits = r.metric === 'l1-adv' || r.metric === 'l1-purified' ? 2 : 1;
  const v = r.std !== undefined ? `${r.mean.toFixed(digits)} ± ${r.std.toFixed(digits)}` : r.mean.toFixed(digits);
  const w = pooledWilson(r.metric, r.values, entryN(r, data));
  return w ? `${v} [${w.lower.toFixed(1)}, ${w.upper.toFixed(1)}]` : v;
}

/** A panel's table in markdown: rows × ('group · column') columns. */
export function panelTable(loaded: LoadedResults, panel: string, onlyRows?: readonly string[]): string {
  const results = loaded.data.results.filter((r) => r.panel === panel && (!onlyRows || onlyRows.includes(r.row)));
  if (results.length === 0) throw new Error(`docs-numbers: ${loaded.file} has no panel '${panel}'`);
  const missing = onlyRows?.filter((row) => !results.some((r) => r.row === row)) ?? [];
  if (missing.length > 0) throw new Error(`docs-numbers: panel '${panel}' of ${loaded.file} has no row ${missing.map((m) => `'${m}'`).join(', ')}`);
  const rows: string[] = [];
  const cols: string[] = [];
  const at = new Map<string, ResultsEntry>();
  for (const r of results) {
    const col = r.group !== undefined ? `${r.group} · ${r.column}` : r.column;
    if (!rows.includes(r.row)) rows.push(r.row);
    if (!cols.includes(col)) cols.push(col);
    at.set(`${r.row}\u0000${col}`, r);
  }
  const lines = [`|  | ${cols.join(' | ')} |`, `|---|${cols.map(() => '---:').join('|')}|`];
  for (const row of rows) lines.push(`| ${row} | ${cols.map((c) => { const r = at.get(`${row}\u0000${c}`); return r ? valueText(r, loaded.data) : ''; }).join(' | ')} |`);
  return lines.join('\n');
}

export function judgedClaims(loaded: LoadedResults): ClaimResult[] {
  const panels = [...new Set(loaded.data.results.map((r) => r.panel))];
  // The same marks the report gives: a claim resting on a pre-processor that does not do its job says so.
  return judgeClaimsFromStored(panels, loaded.data.results, loaded.outcomes, validityMarks(loaded.data.validity ?? []));
}

/** Per statement of the paper: how many of its comparisons are reproduced, contradicted, undecided, not judged. */
export function verdictSummary(loaded: LoadedResults): string {
  const claims = judgedClaims(loaded);
  const lines = ['| statement of the paper | verdict | reproduced | contradicted | undecided | not judged |', '|---|---|---:|---:|---:|---:|'];
  for (const f of summarizeFamilies(claims)) lines.push(`| ${f.family} | ${statementVerdict(f.counts)} | ${f.counts.reproduced} | ${f.counts.contradicted} | ${f.counts.undecided} | ${f.counts['not judged']} |`);
  if (claims.length > 0 && claims.every((c) => c.verdict === 'not judged')) {
    lines.push('', 'Not judged: this run kept no per-image outcomes (they are kept by reports built since), so no paired test can be made from its committed files.');
  }
  return lines.join('\n');
}

/** Every comparison that could be judged (cells and outcomes present), with effect, interval, per-seed values, p and verdict. */
export function judgedComparisons(loaded: LoadedResults): string {
  const judged = judgedClaims(loaded).filter((c) => c.verdict !== 'not judged');
  if (judged.length === 0) return 'No comparison can be judged from these results yet.';
  return [...COMPARISON_HEADER, ...judged.map(comparisonRow)].join('\n');
}

/** The validity table: the pre-processors with at least one finished seed. */
export function validityTable(loaded: LoadedResults): string {
  const records = (loaded.data.validity ?? []).filter((v) => v.seedsDone > 0);
  if (records.length === 0) return 'No validity record in these results (reports built before the oblivious column have none).';
  return validityMarkdown(records);
}

/** One line naming the source of a block's numbers. */
export function sourceLine(loaded: LoadedResults, root: string): string {
  const d = loaded.data;
  const ns = [...new Set(d.results.flatMap((r) => entryN(r, d)).filter((x): x is number => x !== null))];
  const images = ns.length === 1 ? `first ${ns[0]} test images` : ns.length > 1 ? `${Math.min(...ns)}–${Math.max(...ns)} test images` : 'images not recorded';
  return `Generated from \`${path.relative(root, loaded.file)}\`: ${d.datasetLabel ?? d.dataset}, \`${d.scale}\` scale, ${images}, ${d.seeds} seed${d.seeds === 1 ? '' : 's'}; ${loaded.provenance}. Values in % (mean ± sd over seeds when there are several) with the Wilson 95 % interval of the image count.`;
}

/**
 * For the evaluation cells (keys starting with `prefix`) that `loaded` and a second results file both
 * hold: how many stored per-image outcomes differ. The same key means the same settings and seed, so a
 * difference is what a change of code or machine did to training; paired comparisons are then only
 * valid within one file.
 */
export function outcomeDifferences(loaded: LoadedResults, other: LoadedResults, prefix: string): string {
  const shared = Object.keys(other.outcomes).filter((k) => k.startsWith(prefix) && loaded.outcomes[k] !== undefined).sort();
  if (shared.length === 0) throw new Error(`docs-numbers: ${loaded.file} and ${other.file} share no evaluation cell with a key starting '${prefix}'`);
  const ones = (bits: boolean[]) => bits.filter(Boolean).length;
  const differ = (x: boolean[], y: boolean[]) => x.filter((v, i) => v !== y[i]).length;
  const [a, b] = [path.basename(path.dirname(loaded.file)), path.basename(path.dirname(other.file))];
  const lines = [`| cell | n | correct clean (${a} / ${b}) | clean outcomes differ | robust (${a} / ${b}) | robust outcomes differ |`, '|---|---:|---:|---:|---:|---:|'];
  for (const key of shared) {
    const x = loaded.outcomes[key]!;
    const y = other.outcomes[key]!;
    if (x.n !== y.n) throw new Error(`docs-numbers: cell ${key} has ${x.n} images in ${loaded.file} and ${y.n} in ${other.file}`);
    const [cx, cy, rx, ry] = [decodeBits(x.clean, x.n), decodeBits(y.clean, y.n), decodeBits(x.robust, x.n), decodeBits(y.robust, y.n)];
    lines.push(`| ${key} | ${x.n} | ${ones(cx)} / ${ones(cy)} | ${differ(cx, cy)} | ${ones(rx)} / ${ones(ry)} | ${differ(rx, ry)} |`);
  }
  return lines.join('\n');
}

/** The text of one marked block, from its marker arguments ('<path> table <panel>', '<path> verdicts', '<path> source'). */
export function generateBlock(args: string, root: string): string {
  const [file, what, arg] = args.trim().split(/\s+/);
  if (!file || !what) throw new Error(`docs-numbers: marker '${args}' needs '<results.json> <table PANEL|verdicts|comparisons|validity|source|differences OTHER.json>'`);
  const loaded = loadResults(path.resolve(root, file));
  if (what === 'table') {
    if (!arg) throw new Error(`docs-numbers: marker '${args}' needs a panel id after 'table'`);
    // Rows are comma-separated and may hold spaces ('None,NRP (Obl),NRP (Full)').
    const rows = args.trim().split(/\s+/).slice(3).join(' ');
    return panelTable(loaded, arg, rows ? rows.split(',').map((r) => r.trim()) : undefined);
  }
  if (what === 'verdicts') return verdictSummary(loaded);
  if (what === 'source') return sourceLine(loaded, root);
  if (what === 'comparisons') return judgedComparisons(loaded);
  if (what === 'validity') return validityTable(loaded);
  if (what === 'differences') {
    // '<first results.json> differences <second results.json> [key prefix]'
    if (!arg) throw new Error(`docs-numbers: marker '${args}' needs a second results.json after 'differences'`);
    return outcomeDifferences(loaded, loadResults(path.resolve(root, arg)), args.trim().split(/\s+/)[3] ?? 'eval-');
  }
  throw new Error(`docs-numbers: marker '${args}': '${what}' is not one of table, verdicts, comparisons, validity, source, differences`);
}

const BLOCK = /(<!-- numbers ([^>]*?) -->\n)([\s\S]*?)(<!-- \/numbers -->)/g;

/** `text` with every marked block regenerated. */
export function rewriteBlocks(text: string, root: string): string {
  return text.replace(BLOCK, (_m, open: string, args: string, _body: string, close: string) => `${open}${generateBlock(args, root)}\n${close}`);
}

/** The marker arguments of every block in `text`. */
export function markedBlocks(text: string): string[] {
  return [...text.matchAll(BLOCK)].map((m) => m[2]!);
}
