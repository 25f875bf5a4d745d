/**
 * `jatp experiment all --scale smoke` end to end on a tiny image-folder dataset written by the test:
 * every experiment's cells train and evaluate, the report holds every table and figure, its numbers
 * equal the cells' eval.json files, a second run does no work, and a deleted evaluation is redone
 * alone with the same result.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { PNG } from 'pngjs';
import { runExperiment } from '../../src/cli/experiment.js';
import { runSuite } from '../../src/experiments/suite/scheduler.js';
import { planGrid } from '../../src/experiments/suite/scheduler.js';
import { writeReport } from '../../src/experiments/suite/suite-report.js';
import type { ModelMasking } from '../../src/experiments/suite/masking.js';
import { claimsFor } from '../../src/experiments/suite/declarations/claims.js';
import { judgeClaims, type ClaimResult, type EntryCells } from '../../src/experiments/suite/verdicts.js';
import { decodeBits, loadOutcomes, type StoredOutcomes } from '../../src/experiments/suite/outcomes.js';
import { wilsonInterval } from '../../src/evaluation/statistics.js';
import { cpuModel, engineBuild, gitCommit, type Provenance } from 'tfjs-backend-torch/provenance';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'jatp-suite-'));
const out = path.join(root, 'exp');
const dataset = `folder:${path.join(root, 'data')}`;

/** <dir>/{train,test}/<class>/<i>.png: 4 classes of 16x16 RGB images (targeted DLR needs 4), class c brighter in channel c mod 3. */
function writeFolderDataset(dir: string): void {
  for (const [split, n] of [['train', 5], ['test', 3]] as const) {
    for (let c = 0; c < 4; c++) {
      const classDir = path.join(dir, split, `class${c}`);
      fs.mkdirSync(classDir, { recursive: true });
      for (let i = 0; i < n; i++) {
        const png = new PNG({ width: 16, height: 16 });
        for (let p = 0; p < 256; p++) {
          for (let k = 0; k < 3; k++) png.data[4 * p + k] = (k === c % 3 ? (c === 3 ? 200 : 110) : 30) + ((p * 37 + i * 11 + k * 5 + (split === 'test' ? 3 : 0)) % 90);
          png.data[4 * p + 3] = 255;
        }
        fs.writeFileSync(path.join(classDir, `${i}.png`), PNG.sync.write(png));
      }
    }
  }
}

before(() => writeFolderDataset(path.join(root, 'data')));
after(() => fs.rmSync(root, { recursive: true, force: true }));

const flags = { scale: 'smoke', dataset, seeds: '1', out, quiet: true };

interface EvalFile {
  n: number;
  cleanAccuracy: number;
  clean: boolean[];
  attacks: { attack: string; robustAccuracy: number; robust: boolean[]; meanL1AdvVsNaturalAttacked: number; meanL1PurifiedVsNaturalAttacked?: number }[];
}

/** The entry's value computed here from the cell's eval.json, independently of the report code. */
function expectedValue(metric: string, e: EvalFile): number | undefined {
  const a = e.attacks[0]!;
  const robust = a.robust.filter(Boolean).length / e.n;
  if (metric === 'clean') return (100 * e.clean.filter(Boolean).length) / e.n;
  if (metric === 'robust') return 100 * robust;
  if (metric === 'fooling') return 100 - 100 * robust;
  if (metric === 'l1-adv') return a.meanL1AdvVsNaturalAttacked;
  if (metric === 'l1-purified') return a.meanL1PurifiedVsNaturalAttacked;
  return undefined;
}

test('experiment all --scale smoke: every table and figure in the report, values equal to the cells, no work twice, resumable', async () => {
  const here = gitCommit(); // before the run: results.json must name the commit the run had
  const { report, interrupted } = await runExperiment('all', flags, ['node', 'jatp', 'experiment', 'all', '--scale', 'smoke']);
  assert.equal(interrupted, false);
  const html = fs.readFileSync(report, 'utf8');
  for (const id of ['table1', 'table2', 'fig1', 'fig2a', 'fig2b', 'fig4a', 'fig4b', 'images', 'curves', 'provenance']) {
    assert.ok(html.includes(`<section id="${id}">`), `report lacks section ${id}`);
  }
  assert.ok(/<img src="data:image\/png;base64,/.test(html), 'image grid inlined as PNG data');
  assert.ok(!/(src|href)="https?:/.test(html), 'the report must not load anything from the network');
  assert.ok((html.match(/<svg /g) ?? []).length >= 7 + 4, 'a chart per panel and training curves');
  for (const f of ['report.md', 'results.csv', 'results.json']) assert.ok(fs.existsSync(path.join(path.dirname(report), f)), f);

  const results = JSON.parse(fs.readFileSync(path.join(path.dirname(report), 'results.json'), 'utf8')) as {
    results: { panel: string; metric: string; mean?: number; values: (number | null)[]; cells: string[] }[];
    provenance: Provenance; runs: { command: string; provenance?: Provenance }[];
  };
  // Where the numbers came from: the commit, the engine's build, the CPU and the date, of the
  // report's build and of each run that computed cells.
  for (const p of [results.provenance, results.runs[0]?.provenance]) {
    assert.ok(p, 'results.json records provenance for the report and for each run');
    assert.equal(p.commit, here.commit);
    assert.ok(here.commit === 'unknown' || /^[0-9a-f]{40}$/.test(p.commit), p.commit);
    assert.deepEqual(p.engine, engineBuild());
    assert.equal(p.cpuModel, cpuModel());
    assert.ok(Math.abs(Date.parse(p.date) - Date.now()) < 3600_000, `date ${p.date}`);
  }
  const panels = new Set(results.results.map((r) => r.panel));
  assert.deepEqual([...panels].sort(), ['fig1', 'fig2a', 'fig2b', 'fig4a', 'fig4b', 'table1', 'table2']);
  for (const r of results.results) {
    const e = JSON.parse(fs.readFileSync(path.join(out, 'cells', r.cells[0]!, 'eval.json'), 'utf8')) as EvalFile;
    const want = expectedValue(r.metric, e);
    assert.ok(want !== undefined && r.mean !== undefined, `${r.panel} ${r.metric}: missing value`);
    assert.ok(Math.abs(r.mean - want) < 1e-9, `${r.panel} ${r.cells[0]} ${r.metric}: report ${r.mean}, cell ${want}`);
  }
  // Baseline validity: one record per trained pre-processor, its gain recomputed here from the OBL cell
  // (examples made against T alone, so T's outcomes there equal T's own PGD cell on the same seed).
  assert.ok(html.includes('<section id="validity">'));
  const { validity } = JSON.parse(fs.readFileSync(path.join(path.dirname(report), 'results.json'), 'utf8')) as {
    validity: { preprocessor: string; cells: string[]; seedsDone: number; obliviousGain: { points: number; n: number }; identityNatural: number }[];
  };
  const { obliviousOutcomes: outcomes } = JSON.parse(fs.readFileSync(path.join(path.dirname(report), 'results.json'), 'utf8')) as { obliviousOutcomes: Record<string, { n: number; robust: string; targetRobust: string }> };
  assert.ok(validity.length >= 10, `validity records: ${validity.length}`);
  for (const v of validity) {
    assert.equal(v.seedsDone, 1, v.preprocessor);
    const e = JSON.parse(fs.readFileSync(path.join(out, 'cells', v.cells[0]!, 'eval.json'), 'utf8')) as EvalFile & { oblivious: { targetRobust: boolean[] } };
    const diff = e.attacks[0]!.robust.reduce((a, f, i) => a + Number(f) - Number(e.oblivious.targetRobust[i]), 0);
    assert.ok(Math.abs(v.obliviousGain.points - (100 * diff) / e.n) < 1e-9, `${v.preprocessor}: gain`);
    assert.ok(v.identityNatural > 0, `${v.preprocessor}: a trained P is not exactly the identity`);
    assert.deepEqual(decodeBits(outcomes[v.cells[0]!]!.targetRobust, e.n), e.oblivious.targetRobust);
    assert.deepEqual(decodeBits(outcomes[v.cells[0]!]!.robust, e.n), e.attacks[0]!.robust);
  }
  // The OBL cells of JATP on TRADES and of None on TRADES attack the same T with the same seed: T's outcomes agree.
  const oblCells = Object.keys(outcomes).filter((k) => k.startsWith('eval-obl-') && k.includes('-on-trades-s0-'));
  const targetOutcomes = new Set(oblCells.filter((k) => /-vs-trades-on-/.test(k) || k.startsWith('eval-obl-none-')).map((k) => outcomes[k]!.targetRobust));
  assert.equal(targetOutcomes.size, 1, 'oblivious examples do not depend on the pre-processor');
  // The gradient-masking section: its numbers recomputed here from the cells' eval.json files.
  const sanity = (JSON.parse(fs.readFileSync(path.join(path.dirname(report), 'results.json'), 'utf8')) as { sanity: ModelMasking[] }).sanity;
  const readEval = (key: string) => JSON.parse(fs.readFileSync(path.join(out, 'cells', key, 'eval.json'), 'utf8')) as EvalFile;
  const robustFraction = (e: EvalFile) => e.attacks[0]!.robust.filter(Boolean).length / e.n;
  assert.ok(html.includes('<section id="sanity">') && fs.readFileSync(path.join(path.dirname(report), 'report.md'), 'utf8').includes('## Gradient-masking checks'));
  let bpdaJudged = 0;
  for (const m of sanity) {
    assert.ok(m.unionRobustAccuracy !== undefined && m.unionCells.length >= 1, `${m.model}: no union headline`);
    const evals = m.unionCells.map(readEval);
    const union = evals[0]!.clean.filter((ok, i) => ok && evals.every((e) => e.attacks[0]!.robust[i])).length / evals[0]!.n;
    assert.equal(m.unionRobustAccuracy, union, `${m.model}: union`);
    assert.ok(evals.every((e) => m.unionRobustAccuracy! <= robustFraction(e)), `${m.model}: the union is above one of its attacks`);
    const bpda = m.checks.find((c) => c.id === 'bpda-vs-full')!;
    if (bpda.status !== 'not run') {
      bpdaJudged++;
      const [b, p] = bpda.cells.map(readEval);
      assert.deepEqual([b!.attacks[0]!.attack, p!.attacks[0]!.attack].map((a) => a.replace(/\d+$/, '')), ['bpda', 'pgd']);
      assert.equal(bpda.numbers['bpda'], robustFraction(b!));
      assert.equal(bpda.numbers['pgd'], robustFraction(p!));
      assert.equal(bpda.status, robustFraction(b!) >= robustFraction(p!) - bpda.numbers['tolerance']! ? 'pass' : 'warn');
    }
    // No experiment has a Square or a single-step column, and the smoke AutoAttack has no Square stage.
    assert.deepEqual(m.checks.filter((c) => c.id !== 'bpda-vs-full').map((c) => c.status), ['not run', 'not run', 'not run']);
  }
  assert.equal(bpdaJudged, 4, 'Fig. 4(a) runs BPDA and PGD on APE-G, HGD, NRP and JATP');

  // The verdict table opens the report (markdown and HTML), covers every declared claim, and is
  // recomputed here from results.json alone (its entries and the compact per-image outcomes).
  const md = fs.readFileSync(path.join(path.dirname(report), 'report.md'), 'utf8');
  assert.ok(md.split('\n## ')[1]!.startsWith('Verdicts'), 'the verdict table is the first section of report.md');
  assert.ok(html.indexOf('<section id="verdicts">') > 0 && html.indexOf('<section id="verdicts">') < html.indexOf('<section id="table1">'), 'the verdict table comes first in index.html');
  const stored = JSON.parse(fs.readFileSync(path.join(path.dirname(report), 'results.json'), 'utf8')) as { results: EntryCells[]; claims: ClaimResult[]; outcomes: Record<string, StoredOutcomes> };
  const declared = claimsFor([...panels]);
  assert.deepEqual(stored.claims.map((c) => c.claim.id), declared.map((c) => c.id));
  assert.ok(stored.results.every((r) => r.cells.every((k) => stored.outcomes[k] !== undefined)), 'per-image outcomes kept for every cell');
  const again0 = judgeClaims(declared, stored.results, (k) => (stored.outcomes[k] ? loadOutcomes(stored.outcomes[k]) : undefined));
  assert.deepEqual(again0.map((c) => [c.verdict, c.effect, c.p]), stored.claims.map((c) => [c.verdict, c.effect, c.p]));
  assert.ok(stored.claims.every((c) => c.verdict !== 'not judged'), 'every claim judged from the smoke cells');
  for (const r of stored.results.filter((x) => x.metric === 'robust') as (EntryCells & { wilson?: { lower: number; upper: number } })[]) {
    const e = JSON.parse(fs.readFileSync(path.join(out, 'cells', r.cells[0]!, 'eval.json'), 'utf8')) as EvalFile;
    assert.deepEqual(loadOutcomes(stored.outcomes[r.cells[0]!]!).robust, e.attacks[0]!.robust);
    // The Wilson interval of every accuracy, from the cell's own count.
    const w = wilsonInterval(e.attacks[0]!.robust.filter(Boolean).length, e.n);
    assert.deepEqual(r.wilson, { lower: 100 * w.lower, upper: 100 * w.upper });
  }

  // Table 1's row None, column PGD and Fig. 4(a)... share cells with other experiments: all cells exist once.
  const { lines } = planGrid({ out, scale: 'smoke', dataset, seeds: 1, experiments: ['table1', 'table2', 'fig1', 'fig4a', 'fig4b'] });
  // --attacks OBL: every training, and of the evaluations only the OBL column (one per pre-processor, plus None's in Table 1).
  const obl = planGrid({ out, scale: 'smoke', dataset, seeds: 1, experiments: ['table1', 'table2', 'fig1', 'fig4a', 'fig4b'], attacks: ['OBL'] }).lines;
  assert.equal(obl.filter((l) => l.kind !== 'eval').length, lines.filter((l) => l.kind !== 'eval').length);
  assert.ok(obl.filter((l) => l.kind === 'eval').every((l) => l.key.startsWith('eval-obl-')));
  assert.equal(obl.filter((l) => l.kind === 'eval').length, lines.filter((l) => l.kind === 'defense').length + 1);
  const cellFolders = fs.readdirSync(path.join(out, 'cells')).filter((f) => !f.startsWith('.'));
  assert.equal(cellFolders.length, lines.length, 'one folder per distinct cell');
  assert.ok(lines.every((l) => l.state === 'done'));
  assert.ok(lines.filter((l) => l.kind === 'target').length === 4, 'TRADES, Standard, MMA, MART trained once each');

  const again = await runSuite({ out, scale: 'smoke', dataset, seeds: 1, experiments: ['table1', 'table2', 'fig1', 'fig4a', 'fig4b'] });
  assert.equal(again.trained + again.evaluated, 0, 'a finished experiment is not run again');

  // An evaluation lost (killed before it wrote eval.json) is redone alone and gives the same numbers.
  const victim = results.results.find((r) => r.panel === 'table1' && r.metric === 'robust')!;
  const evalFile = path.join(out, 'cells', victim.cells[0]!, 'eval.json');
  const before = JSON.parse(fs.readFileSync(evalFile, 'utf8')) as EvalFile;
  fs.rmSync(evalFile);
  const tensors = tf.memory().numTensors;
  const resumed = await runSuite({ out, scale: 'smoke', dataset, seeds: 1, experiments: ['table1'] });
  assert.equal(tf.memory().numTensors, tensors, 'the scheduler leaks tensors');
  assert.equal(resumed.trained, 0);
  assert.equal(resumed.evaluated, 1);
  const afterRun = JSON.parse(fs.readFileSync(evalFile, 'utf8')) as EvalFile;
  assert.deepEqual(afterRun.attacks[0]!.robust, before.attacks[0]!.robust);
  assert.deepEqual(afterRun.clean, before.clean);

  // A second process on the same folder: a cell whose lock a live process holds is left to it (not
  // run twice), and runs once the holder is gone. Every process keeps its record in the manifest.
  const other = results.results.find((r) => r.panel === 'table1' && r.metric === 'robust' && r.cells[0] !== victim.cells[0])!;
  const otherDir = path.join(out, 'cells', other.cells[0]!);
  const otherBefore = JSON.parse(fs.readFileSync(path.join(otherDir, 'eval.json'), 'utf8')) as EvalFile;
  fs.rmSync(path.join(otherDir, 'eval.json'));
  const holder = spawn('sleep', ['60'], { stdio: 'ignore' });
  try {
    fs.writeFileSync(path.join(otherDir, 'run.lock'), JSON.stringify({ pid: holder.pid, hostname: os.hostname(), startedAt: new Date().toISOString() }));
    const shared = await runSuite({ out, scale: 'smoke', dataset, seeds: 1, experiments: ['table1'] });
    assert.equal(shared.evaluated, 0, 'a cell held by a live process must not be evaluated a second time');
    assert.equal(shared.leftToOthers, 1);
    assert.ok(!fs.existsSync(path.join(otherDir, 'eval.json')));
  } finally {
    holder.kill('SIGKILL');
    await new Promise((resolve) => holder.once('exit', resolve));
  }
  const taken = await runSuite({ out, scale: 'smoke', dataset, seeds: 1, experiments: ['table1'] });
  assert.equal(taken.evaluated, 1, 'the lock of a process that has exited is taken over');
  assert.equal(taken.leftToOthers, 0);
  assert.deepEqual((JSON.parse(fs.readFileSync(path.join(otherDir, 'eval.json'), 'utf8')) as EvalFile).attacks[0]!.robust, otherBefore.attacks[0]!.robust);
  assert.ok(!fs.existsSync(path.join(otherDir, 'run.lock')), 'the evaluation releases its lock');
  const manifest = JSON.parse(fs.readFileSync(path.join(out, 'experiment.json'), 'utf8')) as { runs: { leftToOthers?: number }[] };
  assert.ok(manifest.runs.length >= 5 && manifest.runs.some((r) => r.leftToOthers === 1), 'every run keeps its manifest record');

  // An eval.json cut short (a full disk under an older writer, a copy interrupted): the report names
  // the cell and the file; the experiment runs the cell again, with the same numbers.
  const truncated = fs.readFileSync(evalFile, 'utf8');
  fs.writeFileSync(evalFile, truncated.slice(0, Math.floor(truncated.length / 2)));
  await assert.rejects(writeReport(out), (e: Error) => e.message.includes(`cell ${victim.cells[0]!}`) && e.message.includes(evalFile));
  const redone = await runSuite({ out, scale: 'smoke', dataset, seeds: 1, experiments: ['table1'] });
  assert.equal(redone.evaluated, 1, 'the damaged cell is run again');
  assert.deepEqual((JSON.parse(fs.readFileSync(evalFile, 'utf8')) as EvalFile).attacks[0]!.robust, before.attacks[0]!.robust);
  assert.ok(fs.existsSync(`${evalFile}.damaged`), 'the damaged file is kept aside');

  // A crafted result where BPDA beats the full gradient (every point broken by BPDA, none by PGD) warns.
  const jatp = sanity.find((m) => m.model === 'JATP + TRADES' && m.checks[0]!.status !== 'not run')!;
  const [bpdaKey, pgdKey] = jatp.checks.find((c) => c.id === 'bpda-vs-full')!.cells;
  for (const [key, robust] of [[bpdaKey!, false], [pgdKey!, true]] as const) {
    const file = path.join(out, 'cells', key, 'eval.json');
    const e = JSON.parse(fs.readFileSync(file, 'utf8')) as EvalFile;
    e.attacks[0] = { ...e.attacks[0]!, robust: e.clean.map(() => robust), robustAccuracy: robust ? 1 : 0 };
    fs.writeFileSync(file, JSON.stringify(e));
  }
  await writeReport(out);
  const crafted = (JSON.parse(fs.readFileSync(path.join(path.dirname(report), 'results.json'), 'utf8')) as { sanity: ModelMasking[] }).sanity.find((m) => m.model === 'JATP + TRADES')!;
  const check = crafted.checks.find((c) => c.id === 'bpda-vs-full')!;
  assert.equal(check.status, 'warn');
  assert.deepEqual([check.numbers['bpda'], check.numbers['pgd']], [0, 1]);
  assert.match(fs.readFileSync(path.join(path.dirname(report), 'report.md'), 'utf8'), /\*\*warn: BPDA 0\.0 %, full-gradient PGD 100\.0 %\*\*/);
  assert.match(fs.readFileSync(report, 'utf8'), /<td class="warn"[^>]*>warn: BPDA 0\.0 %/);
});

test('experiment: a folder of another scale or dataset is refused', async () => {
  await assert.rejects(
    runSuite({ out, scale: 'cpu', dataset, seeds: 1, experiments: ['table1'] }),
    /holds a 'smoke' experiment/,
  );
});
