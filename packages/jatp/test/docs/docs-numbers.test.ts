/**
 * Numbers in README.md and docs/ come from committed results: every block between
 * `<!-- numbers … -->` and `<!-- /numbers -->` equals what the generator gives from the results file it
 * names (run `npx tsx scripts/docs-numbers.ts` after committing new results). The generator itself is
 * checked on a small results file written here: table values with their Wilson interval, the verdict
 * summary re-judged from the stored outcomes, the source line, and a stale block being rewritten.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateBlock, markedBlocks, rewriteBlocks } from '../../src/experiments/suite/docs-numbers.js';
import { encodeBits } from '../../src/experiments/suite/outcomes.js';
import { wilsonInterval } from '../../src/evaluation/statistics.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

test("README.md's and docs/*.md's generated blocks equal the committed results", () => {
  const files = ['README.md', ...fs.readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => path.join('docs', f))];
  let blocks = 0;
  for (const rel of files) {
    const text = fs.readFileSync(path.join(ROOT, rel), 'utf8');
    blocks += markedBlocks(text).length;
    assert.equal(rewriteBlocks(text, ROOT), text, `${rel}: a generated block differs from its committed results; run npx tsx scripts/docs-numbers.ts`);
  }
  assert.ok(markedBlocks(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')).length >= 3, 'the README shows generated tables');
  assert.ok(blocks >= 6);
});

test('the generator on a small results file: values, Wilson intervals, verdicts, source, rewriting', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jatp-docs-numbers-'));
  try {
    const n = 40;
    // None right on the first 30 images, APE-G on the first 10: 20 discordant pairs, all one way.
    const none = Array.from({ length: n }, (_, i) => i < 30);
    const apeg = Array.from({ length: n }, (_, i) => i < 10);
    const store = (robust: boolean[]) => ({ n, clean: encodeBits(robust.map(() => true)), robust: encodeBits(robust) });
    const results = {
      scale: 'cpu',
      dataset: 'fashion-mnist',
      datasetLabel: 'Fashion-MNIST',
      seeds: 1,
      experiments: ['quickstart'],
      results: [
        { experiment: 'quickstart', panel: 'quickstart', row: 'None', column: 'PGD', metric: 'robust', values: [75], mean: 75, cells: ['c-none'], n: [n] },
        { experiment: 'quickstart', panel: 'quickstart', row: 'APE-G', column: 'PGD', metric: 'robust', values: [25], mean: 25, cells: ['c-apeg'], n: [n] },
      ],
      outcomes: { 'c-none': store(none), 'c-apeg': store(apeg) },
      provenance: { commit: 'feedc0ffee1234', date: '2026-12-08T01:00:00Z', cpuModel: 'report CPU', cpus: 2 },
      runs: [{ provenance: { commit: 'abcdef0123456789', date: '2026-12-07T10:00:00Z', cpuModel: 'test CPU', cpus: 2 } }, { provenance: { commit: 'abcdef0123456789', date: '2026-12-08T09:00:00Z', cpuModel: 'test CPU', cpus: 2 } }],
    };
    fs.mkdirSync(path.join(dir, 'run'));
    fs.writeFileSync(path.join(dir, 'run', 'results.json'), JSON.stringify(results));
    const w = wilsonInterval(30, n);
    assert.equal(generateBlock('run/results.json table quickstart', dir), `|  | PGD |\n|---|---:|\n| None | 75.0 [${(100 * w.lower).toFixed(1)}, ${(100 * w.upper).toFixed(1)}] |\n| APE-G | 25.0 [${(100 * (1 - w.upper)).toFixed(1)}, ${(100 * (1 - w.lower)).toFixed(1)}] |`);
    assert.equal(generateBlock('run/results.json table quickstart None', dir).split('\n').length, 3);
    // 'Baseline below None' of the quick start: PGD reproduced (p = 2·2^−20), DLR not judged (no entry).
    assert.match(generateBlock('run/results.json verdicts', dir), /\| Quick start: each baseline lowers the target's accuracy under each adaptive attack \| partly reproduced \(1 of 2\) \| 1 \| 0 \| 0 \| 1 \|/);
    assert.match(generateBlock('run/results.json source', dir), /Fashion-MNIST, `cpu` scale, first 40 test images, 1 seed; runs on test CPU × 2, 2026-12-07 to 2026-12-08, commit abcdef0123/);
    // The judged comparison with its effect (APE-G − None = −50 points) and interval; DLR (not judged) is left out.
    const comparisons = generateBlock('run/results.json comparisons', dir).split('\n');
    assert.equal(comparisons.length, 3, 'header, rule, one judged comparison');
    assert.match(comparisons[2]!, /^\| APE-G < None \(PGD\) \| −50\.0 \[−[\d.]+, −[\d.]+\] \|.*\*\*reproduced\*\*/);
    // No validity records in this file: the block says so instead of printing an empty table.
    assert.match(generateBlock('run/results.json validity', dir), /No validity record/);
    // With a record, its row appears, and the comparison resting on that pre-processor carries its mark.
    const record = {
      preprocessor: 'APE-G → TRADES', cells: ['d-apeg'], seeds: 1, seedsDone: 1, targetObliviousAccuracy: 40, fullObliviousAccuracy: 47.5,
      obliviousGain: { points: 7.5, lo: 2.1, hi: 12.9, n }, gainPerSeed: [7.5], identityNatural: 0.01, identityAdversarial: 0.02, identityRatio: 0.5,
      plateauReached: [false], epochs: [30], marks: ['no plateau'],
    };
    fs.writeFileSync(path.join(dir, 'run', 'results.json'), JSON.stringify({ ...results, validity: [record] }));
    assert.match(generateBlock('run/results.json validity', dir), /\| APE-G → TRADES \| 1\/1 \| 40\.0 \| 47\.5 \| \+7\.50 \[2\.1, 12\.9\] \(n 40\) \|.*\| no \(30\) \| \*\*no plateau\*\* \|/);
    assert.match(generateBlock('run/results.json comparisons', dir), /reproduced\*\* \(marked: APE-G: no plateau \(TRADES target\)\)/);
    fs.writeFileSync(path.join(dir, 'run', 'results.json'), JSON.stringify(results));
    const doc = 'intro\n<!-- numbers run/results.json table quickstart -->\n| stale | 1 |\n<!-- /numbers -->\nend\n';
    const fresh = rewriteBlocks(doc, dir);
    assert.ok(fresh.includes('| None | 75.0 [') && !fresh.includes('stale'));
    assert.equal(rewriteBlocks(fresh, dir), fresh, 'rewriting is idempotent');
    assert.throws(() => generateBlock('run/results.json table fig9', dir), /no panel 'fig9'/);
    assert.throws(() => generateBlock('missing.json table x', dir), /does not exist/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the generator: table rows named with spaces, and a row that is not there is an error', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jatp-docs-rows-'));
  try {
    const n = 10;
    const entry = (row: string, mean: number) => ({ experiment: 'fig1', panel: 'fig2a', row, column: 'PGD', metric: 'robust', values: [mean], mean, cells: [`c-${row}`], n: [n] });
    const results = {
      scale: 'cpu', dataset: 'fashion-mnist', datasetLabel: 'Fashion-MNIST', seeds: 1, experiments: ['fig1'],
      results: [entry('None', 50), entry('NRP (Obl)', 40), entry('NRP (Full)', 60)],
      outcomes: {},
      provenance: { commit: 'feedc0ffee1234', date: '2026-12-08T01:00:00Z', cpuModel: 'report CPU', cpus: 2 },
      runs: [],
    };
    fs.mkdirSync(path.join(dir, 'run'));
    fs.writeFileSync(path.join(dir, 'run', 'results.json'), JSON.stringify(results));
    const table = generateBlock('run/results.json table fig2a None,NRP (Full)', dir).split('\n');
    assert.equal(table.length, 4);
    assert.match(table[2]!, /^\| None \| 50\.0 /);
    assert.match(table[3]!, /^\| NRP \(Full\) \| 60\.0 /);
    assert.throws(() => generateBlock('run/results.json table fig2a None,NRP (Fool)', dir), /has no row 'NRP \(Fool\)'/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the generator: per-image differences between two results files on the cells they share', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jatp-docs-diff-'));
  try {
    const n = 12;
    const bits = (f: (i: number) => boolean) => encodeBits(Array.from({ length: n }, (_, i) => f(i)));
    const write = (name: string, outcomes: Record<string, unknown>) => {
      fs.mkdirSync(path.join(dir, name));
      const results = { scale: 'cpu', dataset: 'fashion-mnist', seeds: 1, experiments: ['fig1'], results: [], outcomes, provenance: { commit: 'feedc0ffee1234', date: '2026-12-08T01:00:00Z', cpuModel: 'CPU', cpus: 2 }, runs: [] };
      fs.writeFileSync(path.join(dir, name, 'results.json'), JSON.stringify(results));
    };
    // Clean: the first file right on images 0–7, the second on 2–9: images 0, 1, 8, 9 differ.
    // Robust: first on 0–3, second on 0–3 as well: none differ.
    write('a', { 'eval-pgd-none-s0': { n, clean: bits((i) => i < 8), robust: bits((i) => i < 4) }, 'eval-pgd-only-a': { n, clean: bits(() => true), robust: bits(() => true) } });
    write('b', { 'eval-pgd-none-s0': { n, clean: bits((i) => i >= 2 && i < 10), robust: bits((i) => i < 4) } });
    const table = generateBlock('a/results.json differences b/results.json eval-pgd-', dir).split('\n');
    assert.equal(table.length, 3, 'only the shared cell');
    assert.equal(table[2], '| eval-pgd-none-s0 | 12 | 8 / 8 | 4 | 4 / 4 | 0 |');
    assert.throws(() => generateBlock('a/results.json differences b/results.json eval-fwa-', dir), /share no evaluation cell with a key starting 'eval-fwa-'/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
