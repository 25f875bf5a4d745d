/**
 * The experiment grid without running anything: how many distinct cells `all` has (counted by hand
 * from the paper's tables and figures), that `all` is exactly the union of the experiments, that the
 * keys follow the settings, and the plan's estimates and the report's statistics.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildGrid, cellPatternMatcher, withAttacks, withCells } from '../../src/experiments/suite/grid.js';
import { SCALE_SETTINGS } from '../../src/experiments/suite/scales.js';
import { resolveEval, resolveTarget, type GridContext } from '../../src/experiments/suite/cells.js';
import { estimateSeconds } from '../../src/experiments/suite/estimate.js';
import { meanStd, metricValue } from '../../src/experiments/suite/collect.js';
import { datasetLabel, engineSwitchesNote } from '../../src/experiments/suite/suite-report.js';
import { parseExperimentNames } from '../../src/experiments/suite/declarations/index.js';

const ctx: GridContext = { scale: SCALE_SETTINGS.cpu, dataset: 'fashion-mnist' };

test('grid: all = 4 targets, 17 pre-processors, 141 evaluations, each once', () => {
  const grid = buildGrid(ctx, parseExperimentNames('all'), 1);
  assert.equal(grid.trainings.filter((c) => c.cell.kind === 'target').length, 4);
  // Table 1: 4 vs TRADES; Table 2: + JATP′; Fig. 1/2(a): 3 baselines × {Obl, Full} × {Standard, TRADES} minus the 3 of Table 1; Fig. 4(b): 3 ablations.
  assert.equal(grid.trainings.filter((c) => c.cell.kind === 'defense').length, 4 + 1 + 9 + 3);
  // Table 1: 5 rows × 5 attacks (Natural reads the PGD cell); Table 2: 3 targets × 6 rows × 3 attacks;
  // Fig. 1/2: 2 targets × 7 rows × 3 attacks, less 12 shared with Table 1 and 2 with Table 2;
  // Fig. 4(a): 4 BPDA cells (PGD shared); Fig. 4(b): 16, less 4 shared.
  // OBL (baseline validity): one per pre-processor on the target it was trained against, and None's in Table 1.
  assert.equal(grid.evaluations.length, 25 + 54 + (42 - 14) + 4 + 12 + 17 + 1);
  assert.equal(grid.validity.length, 17);
  assert.ok(grid.validity.every((c) => c.key.startsWith('eval-obl-') && grid.evaluations.includes(c)));
  const union = new Set(['table1', 'table2', 'fig1', 'fig4a', 'fig4b'].flatMap((n) => buildGrid(ctx, parseExperimentNames(n), 1).evaluations.map((c) => c.key)));
  assert.deepEqual([...union].sort(), grid.evaluations.map((c) => c.key).sort());
  assert.equal(new Set(grid.evaluations.map((c) => c.key)).size, grid.evaluations.length);
});

test('grid: keys change with every setting that changes the result, and only then', () => {
  const t = { kind: 'target', recipe: 'trades', seed: 0 } as const;
  assert.equal(resolveTarget(ctx, t).key, resolveTarget(ctx, { ...t }).key);
  assert.notEqual(resolveTarget(ctx, t).key, resolveTarget(ctx, { ...t, seed: 1 }).key);
  assert.notEqual(resolveTarget(ctx, t).key, resolveTarget({ ...ctx, dataset: 'cifar10' }, t).key);
  assert.notEqual(resolveTarget(ctx, t).key, resolveTarget({ ...ctx, scale: SCALE_SETTINGS.smoke }, t).key);
  const e = { kind: 'eval', target: t, attack: 'PGD', seed: 0 } as const;
  assert.notEqual(resolveEval(ctx, e).key, resolveEval({ ...ctx, evalCount: 100 }, e).key);
  assert.equal(resolveEval(ctx, e).key, resolveEval({ ...ctx, evalCount: 200 }, e).key, 'the default n spelled out is the same cell');
  const grid = buildGrid(ctx, ['table1'], 3);
  assert.equal(grid.trainings.length, 3 * 5);
  assert.throws(() => parseExperimentNames('table3'), /not one of table1/);
});

test('plan: a pending cell is estimated from a finished one of its kind, per test image', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'jatp-plan-'));
  try {
    const grid = buildGrid(ctx, ['table1'], 1);
    const [pgdNone, dlrNone] = ['PGD', 'DLR'].map((a) => grid.evaluations.find((c) => c.cell.kind === 'eval' && c.cell.attack === a && !c.cell.defense)!);
    const pgdJatp = grid.evaluations.find((c) => c.cell.kind === 'eval' && c.cell.attack === 'PGD' && c.cell.defense?.method === 'jatp')!;
    const prior = estimateSeconds(out, ctx, pgdJatp, grid.evaluations);
    assert.equal(prior.basis, 'prior');
    fs.mkdirSync(path.join(out, 'cells', pgdNone!.key), { recursive: true });
    fs.writeFileSync(path.join(out, 'cells', pgdNone!.key, 'eval.json'), JSON.stringify({ n: 200, wallSeconds: 100 }));
    const measured = estimateSeconds(out, ctx, pgdJatp, grid.evaluations);
    assert.deepEqual(measured, { seconds: 0.5 * 200, basis: 'measured' });
    assert.equal(estimateSeconds(out, ctx, dlrNone!, grid.evaluations).basis, 'prior', 'another attack is not comparable');
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test('plan: an attack not yet run on a pre-processor is scaled by how much slower that model was under another attack', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'jatp-plan-'));
  try {
    const grid = buildGrid(ctx, ['table1'], 1);
    const find = (attack: string, method: string | undefined) =>
      grid.evaluations.find((c) => c.cell.kind === 'eval' && c.cell.attack === attack && c.cell.defense?.method === method)!;
    const write = (cell: { key: string }, seconds: number) => {
      fs.mkdirSync(path.join(out, 'cells', cell.key), { recursive: true });
      fs.writeFileSync(path.join(out, 'cells', cell.key, 'eval.json'), JSON.stringify({ n: 200, wallSeconds: seconds }));
    };
    write(find('AA', undefined), 100);
    write(find('PGD', undefined), 10);
    write(find('PGD', 'jatp'), 50);
    // AA on None took 10x its PGD; JATP's PGD took 5x None's: AA on JATP ~ 100 s x 5.
    assert.deepEqual(estimateSeconds(out, ctx, find('AA', 'jatp'), grid.evaluations), { seconds: 500, basis: 'measured' });
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test('report statistics: mean and sample std, metrics, dataset labels', () => {
  const { mean, std } = meanStd([1, 2, 4]);
  assert.ok(Math.abs(mean! - 7 / 3) < 1e-12);
  assert.ok(Math.abs(std! - Math.sqrt(((1 - 7 / 3) ** 2 + (2 - 7 / 3) ** 2 + (4 - 7 / 3) ** 2) / 2)) < 1e-12);
  assert.deepEqual(meanStd([3]), { mean: 3 });
  const e = { key: 'k', n: 4, cleanAccuracy: 0.75, wallSeconds: 1, attacks: [{ attack: 'pgd40', robustAccuracy: 0.25, meanL1AdvVsNaturalAttacked: 7, meanL1PurifiedVsNaturalAttacked: 9 }] };
  assert.equal(metricValue('clean', e), 75);
  assert.equal(metricValue('robust', e), 25);
  assert.equal(metricValue('fooling', e), 75);
  assert.equal(metricValue('l1-purified', e), 9);
  assert.equal(datasetLabel('cifar10', '../shared/data/cifar-10-jpeg-batches-bin'), 'JPEG-derived CIFAR-10');
  assert.equal(datasetLabel('fashion-mnist', undefined), 'Fashion-MNIST');
});

test('report: a run started with engine switches shows them beside its backend; none, or an older folder, shows nothing', () => {
  assert.equal(engineSwitchesNote({ engine: { settings: { TFJS_TORCH_OMP_SPINCOUNT: '10000', TFJS_TORCH_PARALLEL_RANGE: '0' } } }),
    '<br><small><code>TFJS_TORCH_OMP_SPINCOUNT=10000</code> <code>TFJS_TORCH_PARALLEL_RANGE=0</code></small>');
  assert.equal(engineSwitchesNote({ engine: { settings: { TFJS_TORCH_ADDON: '/x/<y>.node' } } }), '<br><small><code>TFJS_TORCH_ADDON=/x/&lt;y&gt;.node</code></small>');
  assert.equal(engineSwitchesNote({ engine: { settings: {} } }), '');
  assert.equal(engineSwitchesNote({ engine: {} }), '');
  assert.equal(engineSwitchesNote(undefined), '');
});

test('grid: --cells keeps the matching evaluations and exactly the trainings they need', () => {
  const grid = withAttacks(buildGrid({ scale: SCALE_SETTINGS.evidence, dataset: 'fashion-mnist' }, parseExperimentNames('fig1'), 3), ['PGD', 'OBL']);
  const picked = withCells(grid, ['eval-*-nrp-*-on-trades-*', 'eval-pgd-none-on-standard-s2-*']);
  // NRP (Obl) and NRP (Full) on TRADES: PGD and OBL per seed; None on Standard seed 2: PGD.
  assert.equal(picked.evaluations.length, 2 * 2 * 3 + 1);
  assert.ok(picked.evaluations.every((c) => /^eval-(pgd|obl)-nrp-(obl|full)-vs-trades-on-trades-s[012]-/.test(c.key) || c.key.startsWith('eval-pgd-none-on-standard-s2-')));
  const trainings = picked.trainings.map((c) => c.key.replace(/-[0-9a-f]{10}$/, '')).sort();
  assert.deepEqual(trainings, [
    'defense-nrp-full-vs-trades-s0', 'defense-nrp-full-vs-trades-s1', 'defense-nrp-full-vs-trades-s2',
    'defense-nrp-obl-vs-trades-s0', 'defense-nrp-obl-vs-trades-s1', 'defense-nrp-obl-vs-trades-s2',
    'target-standard-s2', 'target-trades-s0', 'target-trades-s1', 'target-trades-s2',
  ]);
  // Targets still run before the pre-processors trained against them.
  const order = picked.trainings.map((c) => c.key);
  for (const c of picked.trainings) for (const need of c.needs) assert.ok(order.indexOf(need.key) < order.indexOf(c.key), `${need.key} before ${c.key}`);
  assert.ok(picked.validity.every((c) => picked.evaluations.includes(c)));
  assert.equal(picked.validity.length, 6);
  // The whole key must match: a pattern for None does not pick NRP's cells.
  assert.ok(withCells(grid, ['eval-pgd-none-on-trades-*']).evaluations.every((c) => c.key.startsWith('eval-pgd-none-on-trades-')));
  assert.equal(withCells(grid, undefined), grid);
  assert.throws(() => withCells(grid, ['eval-pgd-nrp-on-trades-*']), /--cells: 'eval-pgd-nrp-on-trades-\*' matches none of the/);
});

test('cell patterns: * is the only wildcard; dots and brackets are literal', () => {
  const m = cellPatternMatcher('eval-pgd-*.s0');
  assert.ok(m('eval-pgd-none.s0'));
  assert.ok(!m('eval-pgd-noneXs0'));
  assert.ok(!m('xeval-pgd-none.s0'));
  assert.ok(cellPatternMatcher('a[1]')('a[1]'));
  assert.ok(!cellPatternMatcher('a[1]')('a1'));
});
