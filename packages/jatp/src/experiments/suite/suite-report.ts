/**
 * `jatp report <exp-dir>`: rebuilds `<exp-dir>/report/` from the run folders alone — a
 * self-contained `index.html` (inline SVG charts, PNG images as data URIs, inline CSS; opens without
 * network), `report.md`, `results.csv` and `results.json`.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { provenance } from 'tfjs-backend-torch/provenance';
import { writeFileAtomic } from '../../io/atomic-write.js';
import type { ExperimentName } from './declarations/index.js';
import type { Panel } from './declarations/types.js';
import { cellDir, defenseLabel, type EvalCell, type ResolvedCell } from './cells.js';
import { buildGrid } from './grid.js';
import { collectPanel, readCellEval, type EntryResult } from './collect.js';
import { escapeXml, groupedBarsSvg, lineChartSvg, type BarValue } from '../../evaluation/svg-charts.js';
import { gridContext, readManifest, TRAINING_DONE, type Manifest } from './scheduler.js';
import type { GalleryJson } from './gallery.js';
import { MASKING_COLUMNS, formatCheck, formatUnion, maskingChecks, type MaskingEval, type ModelMasking } from './masking.js';
import { encodeBits, outcomesFromEval, storeOutcomes, type EvalWithOutcomes, type StoredOutcomes } from './outcomes.js';
import { VERDICT_RULES, formatEffect, formatP, formatSeeds, judgeClaimsFromStored, statementVerdict, summarizeFamilies, verdictMarkdown, type ClaimResult, type Verdict } from './verdicts.js';
import { VALIDITY_HEADERS, VALIDITY_NOTE, VALIDITY_TITLE, collectValidity, plateauCurves, validityMarkdown, validityMarks, validityRow, type ValidityRecord } from './validity.js';

export interface PanelResult {
  readonly experiment: ExperimentName;
  readonly panel: Panel;
  readonly results: EntryResult[];
}

export interface ReportData {
  readonly manifest: Manifest;
  readonly datasetLabel: string;
  readonly panels: PanelResult[];
  readonly trainings: { key: string; kind: string; wallSeconds?: number; done: boolean }[];
  readonly evaluations: { key: string; wallSeconds?: number; n?: number; done: boolean }[];
  /** Gradient-masking checks judged from the finished evaluations, one per full model. */
  readonly masking: ModelMasking[];
  /** The paper's claims judged from the cells' per-image outcomes (the report's first section). */
  readonly claims: ClaimResult[];
  /** Per-image outcomes of every finished evaluation cell of the panels, compact (kept in results.json). */
  readonly outcomes: Record<string, StoredOutcomes>;
  /** Per pre-processor: oblivious gain, distance from the identity, training plateau (validity.ts). */
  readonly validity: ValidityRecord[];
}

/** CIFAR-10 read from the JPEG-derived copy is lossy: never call its numbers CIFAR-10 accuracy. */
export function datasetLabel(dataset: string, dataDir: string | undefined): string {
  if (dataset === 'cifar10' && dataDir !== undefined && /jpe?g/i.test(dataDir)) return 'JPEG-derived CIFAR-10';
  if (dataset === 'cifar10') return 'CIFAR-10';
  if (dataset === 'fashion-mnist') return 'Fashion-MNIST';
  if (dataset === 'svhn') return 'SVHN';
  return dataset;
}

export function collectReport(out: string): ReportData {
  const manifest = readManifest(out);
  if (!manifest) throw new Error(`report: ${path.join(out, 'experiment.json')} does not exist (not a 'jatp experiment' output folder)`);
  const ctx = gridContext(manifest);
  const grid = buildGrid(ctx, manifest.experiments, manifest.seeds);
  const panels = grid.panels.map(({ experiment, panel }) => ({ experiment, panel, results: collectPanel(out, ctx, experiment, panel) }));
  const trainings = grid.trainings.map((c) => {
    const f = path.join(cellDir(out, c.key), TRAINING_DONE);
    const done = fs.existsSync(f);
    let wallSeconds: number | undefined;
    try {
      wallSeconds = done ? (JSON.parse(fs.readFileSync(f, 'utf8')) as { wallSeconds?: number }).wallSeconds : undefined;
    } catch (err) {
      throw new Error(`cell ${c.key}: ${f}: not readable JSON (${(err as Error).message}); run \`jatp experiment\` on this folder again to re-run the cell`);
    }
    return { key: c.key, kind: c.cell.kind, done, ...(wallSeconds !== undefined ? { wallSeconds } : {}) };
  });
  const evaluations = grid.evaluations.map((c) => {
    const e = readCellEval(out, c.key);
    return { key: c.key, done: e !== undefined, ...(e ? { wallSeconds: e.wallSeconds, n: e.n } : {}) };
  });
  const masking = maskingChecks(
    grid.evaluations.map((c) => ({ cell: c.cell as EvalCell, key: c.key })),
    (key) => readCellEval(out, key) as MaskingEval | undefined,
  );
  const results = panels.flatMap((p) => p.results);
  // The L1 arrays are kept only for the cells of the L1 panel (they are the bulky part).
  const l1Cells = new Set(results.filter((r) => r.metric === 'l1-adv' || r.metric === 'l1-purified').flatMap((r) => r.cells));
  const outcomes: Record<string, StoredOutcomes> = {};
  for (const key of [...new Set(results.flatMap((r) => r.cells))].sort()) {
    const e = readCellEval(out, key) as EvalWithOutcomes | undefined;
    const o = e ? outcomesFromEval(e) : undefined;
    if (o) outcomes[key] = storeOutcomes(o, l1Cells.has(key));
  }
  // Judged from the compact outcomes, exactly as anyone can re-judge them from results.json.
  const validity = collectValidity(out, grid.validity);
  const claims = judgeClaimsFromStored(panels.map((p) => p.panel.id), results, outcomes, validityMarks(validity));
  return { manifest, datasetLabel: datasetLabel(manifest.dataset, manifest.dataDir), panels, trainings, evaluations, masking, claims, outcomes, validity };
}

const fmt = (v: number | undefined, digits = 2): string => (v === undefined ? '–' : v.toFixed(digits));
const signed = (v: number | undefined): string => (v === undefined ? '' : `${v >= 0 ? '+' : ''}${v.toFixed(2)}`);

function ours(r: EntryResult): string {
  if (r.mean === undefined) return '–';
  const value = r.std !== undefined ? `${fmt(r.mean)} ± ${fmt(r.std)}` : fmt(r.mean);
  return r.wilson ? `${value} [${r.wilson.lower.toFixed(1)}, ${r.wilson.upper.toFixed(1)}]` : value;
}

const WILSON_NOTE = '[…]: Wilson 95 % interval of the count of images (pooled over seeds).';

/** Rows and column headers of a panel's table: columns are 'group · column' when the panel has groups. */
function tableShape(results: readonly EntryResult[]): { rows: string[]; cols: string[]; at: (row: string, col: string) => EntryResult | undefined } {
  const rows: string[] = [];
  const cols: string[] = [];
  const byKey = new Map<string, EntryResult>();
  for (const r of results) {
    const col = r.group !== undefined ? `${r.group} · ${r.column}` : r.column;
    if (!rows.includes(r.row)) rows.push(r.row);
    if (!cols.includes(col)) cols.push(col);
    byKey.set(`${r.row}\u0000${col}`, r);
  }
  return { rows, cols, at: (row, col) => byKey.get(`${row}\u0000${col}`) };
}

function seedNote(m: Manifest): string {
  return m.seeds > 1
    ? `mean ± sample std over ${m.seeds} seeds; a seed changes the training randomness (initialisation, data order, augmentation, training-attack starts) of every target and pre-processor and the random starts of the evaluation attacks; the evaluated test images are the same for every seed`
    : 'one seed (no ± : run with --seeds N for mean ± std over training and attack randomness)';
}

export function reportMarkdown(data: ReportData): string {
  const m = data.manifest;
  const lines: string[] = [];
  lines.push(`# Experiments on ${data.datasetLabel} (${m.scale} scale${m.dryRun ? ', DRY RUN: a few steps on a handful of images, the numbers mean nothing' : ''})`, '');
  lines.push(`Experiments: ${m.experiments.join(', ')}. Values: ${seedNote(m)}. ${WILSON_NOTE} Paper values: CIFAR-10, ResNet-18, ε = 8/255 (spec §6); our scale and data differ, so the difference shows the direction, not a reproduction error.`, '');
  lines.push(verdictMarkdown(data.claims));
  for (const p of data.panels) {
    lines.push(`## ${p.panel.title}`, '', `Paper: ${p.panel.paperClaim}`, '');
    if (p.panel.note) lines.push(p.panel.note, '');
    const { rows, cols, at } = tableShape(p.results);
    const hasPaper = p.results.some((r) => r.paper !== undefined);
    lines.push(`| ${['', ...cols].join(' | ')} |`, `|${['---', ...cols.map(() => '---:')].join('|')}|`);
    for (const row of rows) {
      lines.push(`| ${[row, ...cols.map((c) => {
        const r = at(row, c);
        if (!r) return '';
        return hasPaper && r.paper ? `${ours(r)} (paper ${r.paper.mean}${r.diff !== undefined ? `, Δ ${signed(r.diff)}` : ''})` : ours(r);
      })].join(' | ')} |`);
    }
    lines.push('');
  }
  lines.push(`## ${VALIDITY_TITLE}`, '', VALIDITY_NOTE, '', validityMarkdown(data.validity), '');
  lines.push(`## ${MASKING_TITLE}`, '', MASKING_NOTE, '');
  lines.push(`| ${['full model', 'robust accuracy under the union of attacks', ...MASKING_COLUMNS.map((c) => c.header)].join(' | ')} |`, `|${['---', '---:', ...MASKING_COLUMNS.map(() => '---')].join('|')}|`);
  for (const mm of data.masking) {
    const cell = (id: string) => {
      const c = mm.checks.find((k) => k.id === id);
      return c ? (c.status === 'warn' ? `**${formatCheck(c)}**` : formatCheck(c)) : '';
    };
    lines.push(`| ${[mm.model, formatUnion(mm), ...MASKING_COLUMNS.map((c) => cell(c.id))].join(' | ')} |`);
  }
  lines.push('');
  const commands = m.runs.map((r) => r.command).filter(Boolean);
  lines.push('## Commands', '', ...[...new Set(commands)].map((c) => `    ${c}`), '');
  return lines.join('\n');
}

function validityHtml(out: string, data: ReportData, trainings: readonly ResolvedCell[]): string {
  const head = `<tr>${VALIDITY_HEADERS.map((h) => `<th>${escapeXml(h)}</th>`).join('')}</tr>`;
  const rows = data.validity
    .map((v) => `<tr>${validityRow(v).map((c, i) => (i === 0 ? `<th title="${escapeXml(v.cells.join(', '))}">${escapeXml(c)}</th>` : i === VALIDITY_HEADERS.length - 1 ? `<td class="${c ? 'warn' : 'pass'}">${escapeXml(c || 'valid so far')}</td>` : `<td class="num">${escapeXml(c)}</td>`)).join('')}</tr>`)
    .join('');
  const curves = plateauCurves(out, trainings)
    .map((c) => lineChartSvg({ title: `${c.key}: ${c.objective} per epoch; phases ended at ${c.plateauEpochs.join(', ') || '–'}${c.converged ? ' (plateau reached)' : ''}`, series: [{ label: c.objective, xs: c.values.map((_, i) => i + 1), ys: c.values }], y: 'own-range', xLabel: 'epoch' }))
    .join('');
  return `<section id="validity"><h2>${escapeXml(VALIDITY_TITLE)}</h2><p>${escapeXml(VALIDITY_NOTE)}</p><div class="scroll"><table>${head}${rows}</table></div>${curves ? `<h3>Training objective per epoch (plateau rule)</h3><div class="scroll">${curves}</div>` : ''}</section>`;
}

export function resultsCsv(data: ReportData): string {
  const header = ['experiment', 'panel', 'row', 'group', 'column', 'metric', 'mean', 'std', 'seeds', 'wilson_lower', 'wilson_upper', 'paper', 'diff', 'cells'];
  const q = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const lines = [header.join(',')];
  for (const p of data.panels) {
    for (const r of p.results) {
      lines.push([r.experiment, r.panel, r.row, r.group ?? '', r.column, r.metric, r.mean?.toString() ?? '', r.std?.toString() ?? '', String(r.values.filter((v) => v !== null).length), r.wilson?.lower.toString() ?? '', r.wilson?.upper.toString() ?? '', r.paper?.mean.toString() ?? '', r.diff?.toString() ?? '', r.cells.join(' ')].map(q).join(','));
    }
  }
  return `${lines.join('\n')}\n`;
}

function chartFor(p: PanelResult): string {
  const results = p.results;
  const value = (r: EntryResult | undefined): BarValue | undefined => (r ? { ...(r.mean !== undefined ? { mean: r.mean } : {}), ...(r.std !== undefined ? { std: r.std } : {}), ...(r.paper ? { paper: r.paper.mean } : {}) } : undefined);
  const rows = [...new Set(results.map((r) => r.row))];
  const find = (pred: (r: EntryResult) => boolean) => results.find(pred);
  if (p.panel.chart === 'l1-bars') {
    const cols = [...new Set(results.map((r) => r.column))];
    return groupedBarsSvg({ title: p.panel.title, groups: rows, series: cols, unit: 'L1', value: (g, s) => value(find((r) => r.row === g && r.column === s)) });
  }
  if (p.panel.chart === 'ablation-bars') {
    const groups = [...new Set(results.map((r) => r.group ?? r.column))];
    return groupedBarsSvg({ title: p.panel.title, groups, series: rows, unit: '%', value: (g, s) => value(find((r) => (r.group ?? r.column) === g && r.row === s)) });
  }
  const groups = [...new Set(results.map((r) => (r.group !== undefined ? `${r.group} · ${r.column}` : r.column)))];
  return groupedBarsSvg({
    title: p.panel.title,
    groups,
    series: rows,
    unit: '%',
    value: (g, s) => value(find((r) => (r.group !== undefined ? `${r.group} · ${r.column}` : r.column) === g && r.row === s)),
  });
}

function htmlTable(p: PanelResult): string {
  const { rows, cols, at } = tableShape(p.results);
  const hasPaper = p.results.some((r) => r.paper !== undefined);
  const head = cols.map((c) => `<th colspan="${hasPaper ? 3 : 1}">${escapeXml(c)}</th>`).join('');
  const sub = hasPaper ? `<tr><th></th>${cols.map(() => '<th>ours</th><th>paper</th><th>Δ</th>').join('')}</tr>` : '';
  const body = rows
    .map((row) => {
      const cells = cols
        .map((c) => {
          const r = at(row, c);
          const o = `<td class="num" title="${escapeXml(r?.cells.join(', ') ?? '')}">${r ? escapeXml(ours(r)) : ''}</td>`;
          if (!hasPaper) return o;
          const d = r?.diff;
          return `${o}<td class="num paper">${r?.paper ? r.paper.mean.toFixed(2) : ''}</td><td class="num ${d === undefined ? '' : d < 0 ? 'neg' : 'pos'}">${signed(d)}</td>`;
        })
        .join('');
      return `<tr><th>${escapeXml(row)}</th>${cells}</tr>`;
    })
    .join('');
  return `<table><tr><th></th>${head}</tr>${sub}${body}</table>`;
}

const VERDICT_CLASS: Readonly<Record<Verdict, string>> = { reproduced: 'pass', contradicted: 'warn', undecided: 'undecided', 'not judged': 'notrun' };

function verdictsHtml(claims: readonly ClaimResult[]): string {
  const head = '<h2>Verdicts: which claims of the paper this run reproduces</h2>';
  if (claims.length === 0) return `<section id="verdicts">${head}<p>No claim of the paper can be judged from the experiments of this report.</p></section>`;
  const summary = summarizeFamilies(claims)
    .map((f) => `<tr><th>${escapeXml(f.family)}</th><td>${escapeXml(statementVerdict(f.counts))}</td>${(['reproduced', 'contradicted', 'undecided', 'not judged'] as const).map((v) => `<td class="num ${f.counts[v] > 0 ? VERDICT_CLASS[v] : ''}">${f.counts[v]}</td>`).join('')}</tr>`)
    .join('');
  const rows = claims
    .map((r) => `<tr><td>${escapeXml(r.claim.statement)}</td><td class="num">${escapeXml(formatEffect(r))}</td><td>${escapeXml(formatSeeds(r))}</td><td>${escapeXml(r.test ?? '–')}</td><td class="num">${formatP(r.p)}</td><td class="num">${formatP(r.pHolm)}</td><td class="${VERDICT_CLASS[r.verdict]}" title="${escapeXml(r.claim.id)}">${escapeXml(r.verdict)}${r.note ? ` <small>(${escapeXml(r.note)})</small>` : ''}${r.marks?.length ? ` <small class="warn">marked: ${escapeXml(r.marks.join(', '))}</small>` : ''}</td></tr>`)
    .join('');
  return `<section id="verdicts">${head}<p>${escapeXml(VERDICT_RULES)}</p>
<table><tr><th>statement of the paper</th><th>verdict</th><th>reproduced</th><th>contradicted</th><th>undecided</th><th>not judged</th></tr>${summary}</table>
<details open><summary>every comparison (${claims.length})</summary><div class="scroll"><table><tr><th>comparison</th><th>effect [95 % CI]</th><th>per seed</th><th>test</th><th>p</th><th>p (Holm)</th><th>verdict</th></tr>${rows}</table></div></details></section>`;
}

const MASKING_TITLE = 'Gradient-masking checks (from the evaluations above, no new attacks)';
const MASKING_NOTE =
  'Per full model, the checks of `jatp eval --sanity` that the finished cells can judge: pass / warn with the robust accuracies compared (differences up to max(2 %, 2/n) are noise); "not run" where the experiment has no cell for the needed attack. Headline: the fraction of test images correct under every attack run on the model.';

function maskingHtml(masking: readonly ModelMasking[]): string {
  const head = `<tr><th>full model</th><th>n</th><th>robust accuracy under the union of attacks</th>${MASKING_COLUMNS.map((c) => `<th>${escapeXml(c.header)}</th>`).join('')}</tr>`;
  const rows = masking
    .map((mm) => {
      const checks = MASKING_COLUMNS.map((col) => {
        const c = mm.checks.find((k) => k.id === col.id);
        return c ? `<td class="${c.status === 'not run' ? 'notrun' : c.status}" title="${escapeXml(c.title)}${c.cells.length ? `: ${escapeXml(c.cells.join(', '))}` : ''}">${escapeXml(formatCheck(c))}</td>` : '<td></td>';
      }).join('');
      return `<tr><th>${escapeXml(mm.model)}</th><td class="num">${mm.n ?? ''}</td><td class="num" title="${escapeXml(mm.unionCells.join(', '))}">${escapeXml(formatUnion(mm))}</td>${checks}</tr>`;
    })
    .join('');
  return `<section id="sanity"><h2>${escapeXml(MASKING_TITLE)}</h2><p>${escapeXml(MASKING_NOTE)}</p><div class="scroll"><table>${head}${rows}</table></div></section>`;
}

function dataUri(file: string): string {
  return `data:image/png;base64,${fs.readFileSync(file).toString('base64')}`;
}

/** Image grids: the PGD cells on the TRADES target (seed 0), one per defense (Table 1's rows). */
function galleriesHtml(out: string, evaluations: readonly ResolvedCell[]): string {
  const cells = evaluations.filter((c) => {
    const e = c.cell as EvalCell;
    return e.attack === 'PGD' && e.seed === 0 && e.target.recipe === 'trades' && (e.defense === undefined || (e.defense.ablation === 'none' && e.defense.examples !== 'full'));
  });
  const parts: string[] = [];
  for (const c of cells) {
    const dir = path.join(cellDir(out, c.key), 'gallery');
    const jsonFile = path.join(dir, 'gallery.json');
    if (!fs.existsSync(jsonFile)) continue;
    const g = JSON.parse(fs.readFileSync(jsonFile, 'utf8')) as GalleryJson;
    const label = defenseLabel((c.cell as EvalCell).defense);
    const rows = g.images
      .map((im) => {
        const img = (f: string, alt: string) => `<td><img src="${dataUri(path.join(dir, f))}" alt="${escapeXml(alt)}"></td>`;
        return `<tr><td class="lab">#${im.index}<br>true: ${escapeXml(im.label)}</td>${img(im.files.natural, 'natural')}${img(im.files.adversarial, 'adversarial')}${img(im.files.purified, 'purified adversarial')}${img(im.files.difference, 'difference')}<td class="lab">natural → ${escapeXml(im.predictedNatural)}<br>adversarial → ${escapeXml(im.predictedAdversarial)}</td></tr>`;
      })
      .join('');
    parts.push(`<div class="gallery"><h3>${escapeXml(label)}</h3><table><tr><th></th><th>natural</th><th>adversarial (PGD)</th><th>${label === 'None' ? 'input to T' : 'purified adversarial'}</th><th>|purified − natural| × ${g.amplification}</th><th>predicted</th></tr>${rows}</table></div>`);
  }
  return parts.join('');
}

const BOOKKEEPING = new Set(['type', 'epoch', 'step', 'globalStep', 'lr', 'imagesPerSecond', 'time']);

function curvesHtml(out: string, trainings: readonly ResolvedCell[]): string {
  const parts: string[] = [];
  for (const c of trainings) {
    const file = path.join(cellDir(out, c.key), 'metrics.jsonl');
    if (!fs.existsSync(file)) continue;
    const records = fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        try {
          return JSON.parse(l) as Record<string, unknown>;
        } catch {
          return undefined;
        }
      })
      .filter((r): r is Record<string, unknown> => r !== undefined);
    // Step lines (every few steps), or the per-epoch training means when a short run has more of those.
    const stepLines = records.filter((r) => r['type'] === 'step');
    const epochLines = records.filter((r) => r['type'] === 'epoch').map((r): Record<string, unknown> => ({ globalStep: r['globalStep'], ...(r['train'] as Record<string, unknown>) }));
    const steps = stepLines.length >= epochLines.length ? stepLines : epochLines;
    if (steps.length === 0) continue;
    const keys = [...new Set(steps.flatMap((s) => Object.keys(s).filter((k) => !BOOKKEEPING.has(k) && typeof s[k] === 'number')))].slice(0, 4);
    const xs = steps.map((s) => Number(s['globalStep'] ?? 0));
    const series = keys.map((k) => ({ label: k, xs, ys: steps.map((s) => (typeof s[k] === 'number' ? (s[k] as number) : Number.NaN)) }));
    parts.push(lineChartSvg({ title: c.key, series, y: 'own-range', xLabel: 'step' }));
  }
  return parts.length > 0 ? parts.join('') : '<p>No training curves yet (cells log a step line every few steps).</p>';
}

function versions(): Record<string, string> {
  const require = createRequire(import.meta.url);
  const v: Record<string, string> = { node: process.version };
  for (const pkg of ['@tensorflow/tfjs-core', 'pngjs']) {
    try {
      v[pkg] = (require(`${pkg}/package.json`) as { version: string }).version;
    } catch {
      /* not resolvable from here: left out */
    }
  }
  try {
    v['jatp'] = (JSON.parse(fs.readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    /* running from an unusual layout */
  }
  try {
    v['git commit'] = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: path.dirname(new URL(import.meta.url).pathname), stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    /* not a git checkout */
  }
  return v;
}

const CSS = `body{font-family:system-ui,sans-serif;margin:24px;max-width:1300px;color:#222}h1{font-size:22px}h2{font-size:18px;margin-top:34px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0;font-size:13px}td,th{border:1px solid #ddd;padding:3px 6px}th{background:#f6f6f6}td.num{text-align:right;font-variant-numeric:tabular-nums}
td.paper{color:#666}td.neg{color:#b00}td.pos{color:#070}.claim{color:#444;font-style:italic}.gallery{display:inline-block;vertical-align:top;margin:0 18px 18px 0}
.gallery img{image-rendering:pixelated;width:64px;height:64px}.lab{font-size:11px}code,pre{background:#f4f4f4;padding:2px 4px}svg{margin:6px 8px 6px 0}td.pass{color:#070}td.warn{color:#b00;font-weight:bold}td.notrun{color:#888}td.undecided{color:#a60}details{margin:6px 0}.scroll{overflow-x:auto}`;

export function reportHtml(out: string, data: ReportData): string {
  const m = data.manifest;
  const ctx = gridContext(m);
  const grid = buildGrid(ctx, m.experiments, m.seeds);
  const panelsHtml = data.panels
    .map((p) => `<section id="${p.panel.id}"><h2>${escapeXml(p.panel.title)}</h2><p class="claim">Paper: ${escapeXml(p.panel.paperClaim)}</p>${p.panel.note ? `<p>${escapeXml(p.panel.note)}</p>` : ''}<div class="scroll">${htmlTable(p)}</div><div class="scroll">${chartFor(p)}</div></section>`)
    .join('');
  const total = (xs: { wallSeconds?: number }[]) => xs.reduce((a, x) => a + (x.wallSeconds ?? 0), 0);
  const cellRows = [...data.trainings.map((t) => ({ ...t, n: undefined as number | undefined })), ...data.evaluations.map((e) => ({ ...e, kind: 'eval' }))]
    .map((c) => `<tr><td>${escapeXml(c.key)}</td><td>${c.kind}</td><td>${c.done ? 'done' : 'not run'}</td><td class="num">${c.wallSeconds !== undefined ? c.wallSeconds.toFixed(1) : ''}</td></tr>`)
    .join('');
  const settings = grid.trainings
    .map((c) => `<details><summary>${escapeXml(c.key)}</summary><pre>${escapeXml(JSON.stringify(c.settings, null, 1))}</pre></details>`)
    .join('');
  const evalSettings = grid.evaluations[0] ? `<details><summary>evaluation settings (example: ${escapeXml(grid.evaluations[0].key)})</summary><pre>${escapeXml(JSON.stringify(grid.evaluations[0].settings, null, 1))}</pre></details>` : '';
  const cpus = os.cpus();
  const machine = `${cpus[0]?.model ?? 'unknown CPU'} × ${cpus.length} logical cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ${os.platform()} ${os.release()}`;
  const vers = Object.entries(versions()).map(([k, v]) => `${escapeXml(k)} ${escapeXml(v)}`).join(', ');
  const runs = m.runs.map((r) => `<tr><td><code>${escapeXml(r.command)}</code></td><td>${escapeXml(r.started)}</td><td>${escapeXml(r.finished ?? 'running or killed')}</td><td>${escapeXml(r.backend ?? '')}${engineSwitchesNote(r.provenance)}</td><td class="num">${r.trained}</td><td class="num">${r.evaluated}</td></tr>`).join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>jatp experiments: ${escapeXml(data.datasetLabel)} (${m.scale})</title><style>${CSS}</style></head><body>
<h1>JATP experiments on ${escapeXml(data.datasetLabel)}, ${escapeXml(m.scale)} scale${m.dryRun ? ' (dry run: a few steps on a handful of images; the numbers mean nothing)' : ''}</h1>
<p>Experiments: ${m.experiments.map((e) => escapeXml(e)).join(', ')}. ${data.evaluations.filter((e) => e.done).length}/${data.evaluations.length} evaluations and ${data.trainings.filter((t) => t.done).length}/${data.trainings.length} trainings done. Values: ${escapeXml(seedNote(m))}.
Accuracies in % of the first ${data.evaluations.find((e) => e.n !== undefined)?.n ?? '?'} test images; full model F = T(clip01(P(x))), adaptive attacks (exact gradients through P; BPDA: identity backward). Paper values are CIFAR-10 with ResNet-18 targets at ε = 8/255: at a smaller scale or on other data, Δ shows the direction, not a reproduction error.</p>
${m.dataset === 'cifar10' && data.datasetLabel.startsWith('JPEG') ? '<p><b>Data: the JPEG-derived copy of CIFAR-10 (lossy). These are not CIFAR-10 accuracies.</b></p>' : ''}
${verdictsHtml(data.claims)}
<p>${escapeXml(WILSON_NOTE)}</p>
${validityHtml(out, data, grid.trainings)}
${panelsHtml}
${maskingHtml(data.masking)}
<section id="images"><h2>Images: natural, adversarial, purified, difference (TRADES target, PGD)</h2>${galleriesHtml(out, grid.evaluations)}</section>
<section id="curves"><h2>Training curves (metrics.jsonl of each training cell)</h2>${curvesHtml(out, grid.trainings)}</section>
<section id="provenance"><h2>Commands, settings, versions, machine, wall times</h2>
<table><tr><th>command</th><th>started</th><th>finished</th><th>backend</th><th>trained</th><th>evaluated</th></tr>${runs}</table>
<p>Versions: ${vers}. Machine (of this report's build): ${escapeXml(machine)}.</p>
<p>Wall time: training ${total(data.trainings).toFixed(0)} s, evaluation ${total(data.evaluations).toFixed(0)} s (finished cells only).</p>
<details><summary>cells (${data.trainings.length + data.evaluations.length})</summary><table><tr><th>cell</th><th>kind</th><th>state</th><th>seconds</th></tr>${cellRows}</table></details>
${settings}${evalSettings}
</section></body></html>
`;
}

/**
 * The engine switches a run was started with (TFJS_TORCH_*, OMP_* ...), so a run with a speed or
 * precision switch set shows it beside its backend; empty for none, or for folders written before
 * provenance recorded them.
 */
export function engineSwitchesNote(p: { engine?: { settings?: Record<string, string> } } | undefined): string {
  const settings = Object.entries(p?.engine?.settings ?? {});
  if (settings.length === 0) return '';
  return `<br><small>${settings.map(([k, v]) => `<code>${escapeXml(k)}=${escapeXml(v)}</code>`).join(' ')}</small>`;
}

/**
 * The OBL cells' per-image outcomes (F clean and robust, T clean and robust on the same examples), in
 * the compact bit encoding of outcomes.ts: the validity gains can be re-tested from results.json alone.
 */
export function obliviousOutcomes(out: string, keys: readonly string[]): Record<string, { n: number; clean: string; robust: string; targetClean: string; targetRobust: string }> {
  const result: Record<string, { n: number; clean: string; robust: string; targetClean: string; targetRobust: string }> = {};
  for (const key of keys) {
    const e = readCellEval(out, key) as (MaskingEval & { oblivious?: { targetClean: boolean[]; targetRobust: boolean[] } }) | undefined;
    if (!e?.oblivious || !e.clean || !e.attacks[0]?.robust) continue;
    result[key] = { n: e.n, clean: encodeBits(e.clean), robust: encodeBits(e.attacks[0].robust), targetClean: encodeBits(e.oblivious.targetClean), targetRobust: encodeBits(e.oblivious.targetRobust) };
  }
  return result;
}

/** Writes `<out>/report/{index.html,report.md,results.csv,results.json}`; returns the index.html path. */
export async function writeReport(out: string): Promise<string> {
  const data = collectReport(out);
  const dir = path.join(out, 'report');
  fs.mkdirSync(dir, { recursive: true });
  // provenance: of this report's build; runs: each invocation that computed cells, with its own.
  const json = { provenance: provenance(), runs: data.manifest.runs, scale: data.manifest.scale, dataset: data.manifest.dataset, datasetLabel: data.datasetLabel, seeds: data.manifest.seeds, experiments: data.manifest.experiments, results: data.panels.flatMap((p) => p.results), trainings: data.trainings, evaluations: data.evaluations, sanity: data.masking, claims: data.claims, validity: data.validity, outcomes: data.outcomes, obliviousOutcomes: obliviousOutcomes(out, data.validity.flatMap((v) => v.cells)) };
  await writeFileAtomic(path.join(dir, 'results.json'), `${JSON.stringify(json, null, 1)}\n`);
  await writeFileAtomic(path.join(dir, 'results.csv'), resultsCsv(data));
  await writeFileAtomic(path.join(dir, 'report.md'), `${reportMarkdown(data)}\n`);
  const index = path.join(dir, 'index.html');
  await writeFileAtomic(index, reportHtml(out, data));
  return index;
}
