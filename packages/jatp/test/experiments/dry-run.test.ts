/**
 * The paper-scale dry run (`jatp experiment table1 --scale paper --dry-run`): one cell of every kind of
 * Table 1 at the paper's network sizes and attack budgets, on a handful of images, each training
 * stopped once and resumed; then the plan of the whole experiment (`all`) estimated from its
 * measurements.
 *
 * Why Table 1 and not `all` in `npm test`: Table 1 holds the TRADES recipe, every pre-processor
 * method (APE-G, HGD, NRP with oblivious examples; JATP) and five of the six attacks, each through the
 * full-size purifier. What `all` adds (the Standard, MMA and MART recipes, Full examples, JATP′, the
 * three loss ablations, BPDA) runs the same code paths with other switches and costs about three times
 * as much (JATP's purifier alone is ~4 GFLOP per image and pass, 8x the ResNet-18): run
 * `jatp experiment all --scale paper --dry-run` by hand. Runs on the
 * JPEG-derived CIFAR-10 copy when present, else on a generated folder of 32x32 RGB images. Also: a
 * deliberately wrong preset (learning-rate milestones out of order; a purifier with no blocks) must
 * fail it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { PNG } from 'pngjs';
import { initBackend } from '../../src/index.js';
import { checkSchedule, runDryRun, type Measurements } from '../../src/experiments/suite/dry-run.js';
import { DRY_RUN_WORK } from '../../src/experiments/suite/dry-run-scale.js';
import { buildGrid } from '../../src/experiments/suite/grid.js';
import { SCALE_SETTINGS } from '../../src/experiments/suite/scales.js';
import { formatMeasuredPlan, planFromMeasurements, readMeasurements } from '../../src/experiments/suite/measured-plan.js';
import { targetPreset } from '../../src/targets/presets.js';
import { EXPERIMENT_NAMES } from '../../src/experiments/suite/declarations/index.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const cifarDir = path.resolve(repoRoot, '../shared/data/cifar-10-jpeg-batches-bin');
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'jatp-dry-run-'));
const out = path.join(root, 'dry');
const useCifar = fs.existsSync(path.join(cifarDir, 'test_batch.bin'));
const dataset = useCifar ? 'cifar10' : `folder:${path.join(root, 'data')}`;
const dataDir = useCifar ? { dataDir: cifarDir } : {};

/** <dir>/{train,test}/<class>/<i>.png: 10 classes (AutoAttack's targeted stage needs 10) of 32x32 RGB images. */
function writeFolderDataset(dir: string): void {
  for (const [split, n] of [['train', 1], ['test', 2]] as const) {
    for (let c = 0; c < 10; c++) {
      const classDir = path.join(dir, split, `class${c}`);
      fs.mkdirSync(classDir, { recursive: true });
      for (let i = 0; i < n; i++) {
        const png = new PNG({ width: 32, height: 32 });
        for (let p = 0; p < 1024; p++) {
          for (let k = 0; k < 3; k++) png.data[4 * p + k] = (k === c % 3 ? 60 + 18 * c : 30) + ((p * 37 + i * 11 + k * 5) % 70);
          png.data[4 * p + 3] = 255;
        }
        fs.writeFileSync(path.join(classDir, `${i}.png`), PNG.sync.write(png));
      }
    }
  }
}

let backend = '';
before(async () => {
  if (!useCifar) {
    process.stderr.write(`dry-run test: ${cifarDir} absent; using a generated 32x32 image folder\n`);
    writeFolderDataset(path.join(root, 'data'));
  }
  backend = await initBackend();
});
after(() => fs.rmSync(root, { recursive: true, force: true }));

test('schedule check: the preset milestones give the preset rate at each boundary; a wrong list is refused', () => {
  const trades = targetPreset('trades', 'paper', 'cifar10');
  const s = checkSchedule('trades', { main: trades.optimizer.lr }, trades.lrMilestones, trades.epochs);
  // TRADES: lr 0.1, x0.1 from epoch 75 (its 90 and 100 lie after its 76 epochs).
  assert.deepEqual(s.boundaries.find((b) => b.epoch === 74)!.lr, { main: 0.1 });
  assert.ok(Math.abs(s.boundaries.find((b) => b.epoch === 75)!.lr['main']! - 0.01) < 1e-15);
  assert.deepEqual(s.inertMilestones, [90, 100]);
  assert.throws(() => checkSchedule('x', { main: 0.1 }, [[90, 0.01], [75, 0.1]], 100), /increasing epoch order/);
  assert.throws(() => checkSchedule('x', { main: 0.1 }, [[0, 0.1]], 100), /not a positive integer/);
});

let measurements: Measurements | undefined;

// What the dry run found (CIFAR-10 copy, 2026-12-07): JATP's paper preset (SGD lr 0.01, momentum 0.9,
// spec §2.6) against the dry run's TRADES target diverged (NaN by step 3). Two causes: (1) the 5-step
// target's eval-mode batch-norm statistics were still near their init (eval logits |z| ~ 6e6); the dry
// run now sets them from the training images (`calibrateTargetBatchNorm`). (2) Against the calibrated
// target the preset still diverges, and not because of an engine error: the same JATP step in PyTorch
// (same weights, batch and adversarial examples) gives the same loss terms and the same updated
// weights (4e-6), PyTorch's own JATP loop diverges along the same path (4.24 -> 7616 -> 7.0e15 -> NaN),
// and the purifier's gradients and SGD steps match PyTorch to ~1e-6 (purifier-sgd-reference.test.ts).
// A target trained for five steps is not the robust one the paper trains against; the dry run trains
// JATP at 1e-4 of the preset's rate (`dryRunLrFactor`, reasons and numbers there), which this test
// checks was applied and recorded.
test('dry run of Table 1 at paper scale: every cell kind trains (stopped once, resumed) and evaluates; report and measurements written', async () => {
  const startTensors = tf.memory().numTensors;
  const started = Date.now();
  const lines: string[] = [];
  const r = await runDryRun({ out, dataset, ...dataDir, experiments: ['table1'], backend, log: (l) => lines.push(l) }).catch((err: Error) => {
    process.stderr.write(`dry run on ${dataset} failed after ${((Date.now() - started) / 1000).toFixed(0)} s: ${err.message}\n`);
    throw err;
  });
  process.stderr.write(`dry run on ${dataset}: ${((Date.now() - started) / 1000).toFixed(0)} s, ${r.measurements.cells.length} cells\n`);
  measurements = r.measurements;
  assert.equal(tf.memory().numTensors, startTensors, 'the dry run leaves no tensors behind');
  assert.ok(fs.existsSync(r.report), 'report written');
  const m = r.measurements;
  const classes = new Set(m.cells.map((c) => c.cls));
  // Table 1's target recipe and every pre-processor kind ran.
  assert.ok(classes.has('target:trades'));
  for (const cls of ['apeg:obl', 'hgd:obl', 'nrp:obl']) assert.ok(classes.has(`defense:${cls}:none`), cls);
  assert.ok(classes.has('defense:jatp::none'));
  // Every attack of Table 1 at the paper's budget, through JATP; PGD on each pre-processor and on the bare target.
  for (const attack of ['PGD', 'DLR', 'AA', 'FWA', 'TI-BIM']) assert.ok(classes.has(`eval:${attack}:jatp`), attack);
  for (const method of ['none', 'apeg', 'hgd', 'nrp']) assert.ok(classes.has(`eval:PGD:${method}`), method);
  for (const c of m.cells.filter((x) => x.kind !== 'eval')) {
    // 10 training images in batches of 2: 5 steps, the first in its own session; the rest timed.
    assert.equal(c.steps, 5, c.key);
    assert.equal(c.stepSeconds!.length, 3, c.key);
    assert.ok(c.peakRssBytes > 0 && c.stepSeconds!.every((s) => s > 0), c.key);
  }
  for (const c of m.cells.filter((x) => x.kind === 'eval')) assert.ok(c.evalImages === 1 && c.evalSecondsPerImage! > 0, c.key);
  // JATP trained at the dry run's documented fraction of its preset's rate, the others at the preset's.
  for (const c of m.cells.filter((x) => x.kind !== 'eval')) assert.equal(c.lrFactor, c.cls.startsWith('defense:jatp') ? DRY_RUN_WORK.jatpLrFactor : undefined, c.key);
  // The paper's attack budgets, not shrunk: the evaluation folders record them.
  const grid = buildGrid({ scale: SCALE_SETTINGS.paper, dataset }, ['table1'], 1);
  const attacks = new Set(grid.evaluations.map((e) => e.settings['attack']));
  const dryAttacks = fs.readdirSync(path.join(out, 'cells')).filter((d) => d.startsWith('eval-')).map((d) => (JSON.parse(fs.readFileSync(path.join(out, 'cells', d, 'eval.json'), 'utf8')) as { settings: { attack: string } }).settings.attack);
  for (const a of dryAttacks) assert.ok(attacks.has(a), `${a} is a paper budget`);
  assert.ok(m.autoAttackWorkRatio > 10, 'AutoAttack ran with capped iterations, and the plan knows by how much');
  // Baselines with oblivious examples timed their generation; trainings checked their schedules.
  assert.ok(m.cells.some((c) => c.obliviousSeconds !== undefined && c.obliviousImages === 10));
  assert.equal(m.schedules.length, m.cells.filter((c) => c.kind !== 'eval').length);
});

test('plan from the measurements: the whole paper experiment estimated from the measured kinds (written even when a cell failed)', () => {
  // The file is written also when the dry run stopped at a failing cell.
  measurements ??= readMeasurements(path.join(out, 'measurements.json'));
  const ctx = { scale: SCALE_SETTINGS.paper, dataset: 'cifar10' };
  const grid = buildGrid(ctx, EXPERIMENT_NAMES, 1);
  const cells = [...grid.trainings, ...grid.evaluations];
  const planned = planFromMeasurements(ctx, cells, measurements, { stepsPerSecond: { trades: 10 }, speedup: 20 });
  const estimated = planned.filter((p) => p.match !== 'none');
  assert.ok(estimated.length > 0 && estimated.every((p) => Number.isFinite(p.seconds) && p.seconds > 0));
  if (measurements.failure === undefined) assert.equal(estimated.length, planned.length, 'a passing dry run measures every kind (or a stand-in)');
  const trades = planned.find((p) => p.cls === 'target:trades')!;
  // 76 epochs of ceil(50000 / 128) = 391 steps; at 10 steps/s the steps alone take 2972 s.
  assert.equal(trades.steps, 76 * 391);
  assert.ok(trades.secondsThere! >= trades.steps! / 10);
  const text = formatMeasuredPlan(planned, measurements, 'measurements.json', { stepsPerSecond: { trades: 10 }, speedup: 20 });
  assert.match(text, new RegExp(`measured on: .*backend '${backend}'`));
  assert.match(text, /not measured on a GPU/);
});

test('a deliberately wrong preset fails the dry run: milestones out of order (before training), a purifier with no blocks (at its cell)', async () => {
  await assert.rejects(
    runDryRun({ out: path.join(root, 'bad-schedule'), dataset, ...dataDir, experiments: ['table1'], override: { target: (c) => ({ ...c, lrMilestones: [[90, 0.01], [75, 0.1]] }) } }),
    /target-trades.*increasing epoch order/,
  );
  assert.ok(!fs.existsSync(path.join(root, 'bad-schedule', 'cells')) || fs.readdirSync(path.join(root, 'bad-schedule', 'cells')).length === 0, 'nothing trained');
  // Same folder as the passing run: the targets and baselines are done; the JATP cells change and fail.
  await assert.rejects(
    runDryRun({ out, dataset, ...dataDir, experiments: ['table1'], override: { defense: (c) => (c.method === 'jatp' ? { ...c, purifier: { ...c.purifier, options: { ...c.purifier.options, nb: 0 } } } : c) } }),
    /nb' must be an integer >= 1, got 0/,
  );
});
