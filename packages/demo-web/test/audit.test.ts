/**
 * The audit page in Debian's chromium (playwright-core, no browser download): loading a classifier
 * by URL and by dropped files, a user's labelled image folder, AutoAttack on 20 images in the
 * worker with per-image outcomes equal to the toolkit's `evaluate` in Node (both on the `cpu`
 * backend: bit-equal attacks are only expected on the same kernels), the main thread staying free
 * (longest task < 200 ms), cancel, the downloaded JSON read back by the toolkit's readers, and a
 * clear message on the page for each bad input. The models are made here: a small convolutional
 * classifier trained for a few seconds on Fashion-MNIST, and two that do not fit the images.
 * Without chromium the tests skip with the reason (and fail when CI=true).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { PNG } from 'pngjs';
import { assembleReport, cliEvalJson, evaluate, loadPipeline, loadTestSplit, parseAttackSpec, readEvalJson, readState, mergeStates, type EvaluationReport, type Split } from 'jatp';
import type { Page } from 'playwright-core';
import { buildAuditSite, FASHION_MNIST_DIR } from '../scripts/audit-site.js';
import { serveFolder, type StaticServer } from '../scripts/static-server.js';
import { cardChecks, wilson } from '../src/audit/card.js';
import { browserSkipReason, launchBrowser, type Browser } from './browser.js';

const reason = browserSkipReason() ?? (existsSync(FASHION_MNIST_DIR) ? undefined : `no Fashion-MNIST in ${FASHION_MNIST_DIR} (Debian package dataset-fashion-mnist)`);
if (reason !== undefined && process.env['CI'] === 'true') {
  test('audit page tests need chromium and Fashion-MNIST on CI', () => assert.fail(reason));
}
const skip = reason;

/** Writes a tfjs-layers model as model.json + one weight shard. */
async function saveModel(model: tf.LayersModel, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      const weights = new Uint8Array(a.weightData as ArrayBuffer);
      writeFileSync(path.join(dir, 'group1-shard1of1.bin'), weights);
      writeFileSync(path.join(dir, 'model.json'), JSON.stringify({ format: 'layers-model', modelTopology: a.modelTopology, weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: a.weightSpecs }] }));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: weights.byteLength } };
    }),
  );
}

function smallCnn(inputShape: [number, number, number], classes: number, seed: number): tf.Sequential {
  const init = (s: number) => tf.initializers.glorotUniform({ seed: seed + s });
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape, filters: 2, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: init(0) }),
      tf.layers.flatten(),
      tf.layers.dense({ units: classes, kernelInitializer: init(1) }),
    ],
  });
}

/** Large enough that few images survive APGD-CE: each survivor costs AutoAttack's later stages (on cpu, twice). */
const EPS = 0.15;

describe('audit page (headless chromium)', { skip }, () => {
  let dir: string;
  let site: string;
  let server: StaticServer;
  let browser: Browser;
  let test20: Split;

  before(async () => {
    await tf.setBackend('cpu');
    dir = mkdtempSync(path.join(tmpdir(), 'jatp-audit-'));
    const { test: split } = await loadTestSplit('fashion-mnist', { dataDir: FASHION_MNIST_DIR });
    // Train on test images 1000..2999 (the audit uses the first 20): a few seconds, ~70 % accurate.
    const size = 28 * 28;
    const xs = tf.tidy(() => tf.div(tf.tensor4d(Float32Array.from(split.images.subarray(1000 * size, 3000 * size)), [2000, 28, 28, 1]), 255));
    const ys = tf.oneHot(tf.tensor1d(Array.from(split.labels.subarray(1000, 3000)), 'int32'), 10);
    const model = smallCnn([28, 28, 1], 10, 1);
    model.compile({ optimizer: tf.train.adam(0.01), loss: tf.losses.softmaxCrossEntropy });
    await model.fit(xs, ys, { epochs: 3, batchSize: 100, shuffle: false, verbose: 0 });
    tf.dispose([xs, ys]);
    await saveModel(model, path.join(dir, 'classifier'));
    // The same network for 0-255 pixels (first kernel / 255): fed 0-1 images it sees almost only its biases.
    const for255 = smallCnn([28, 28, 1], 10, 1);
    const [kernel, bias, ...rest] = model.getWeights();
    for255.setWeights([tf.div(kernel!, 255), bias!, ...rest]);
    await saveModel(for255, path.join(dir, 'pixels-255'));
    for255.dispose();
    await saveModel(smallCnn([32, 32, 3], 10, 2), path.join(dir, 'wrong-shape'));
    await saveModel(smallCnn([28, 28, 1], 5, 3), path.join(dir, 'five-classes'));
    model.dispose();
    test20 = { images: split.images.slice(0, 20 * size), labels: split.labels.slice(0, 20), count: 20, imageShape: [28, 28, 1] };
    // A labelled folder as a user would have it: <root>/<class index>/<image>.png
    for (let i = 0; i < 10; i++) {
      const png = new PNG({ width: 28, height: 28 });
      for (let p = 0; p < size; p++) {
        const v = split.images[i * size + p]!;
        png.data.set([v, v, v, 255], p * 4);
      }
      mkdirSync(path.join(dir, 'folder', String(split.labels[i])), { recursive: true });
      writeFileSync(path.join(dir, 'folder', String(split.labels[i]), `img${i}.png`), PNG.sync.write(png));
    }
    site = path.join(dir, 'site');
    await buildAuditSite({ outDir: site, fashionMnistCount: 40, classifier: path.join(dir, 'classifier') });
    for (const m of ['wrong-shape', 'five-classes', 'pixels-255']) {
      mkdirSync(path.join(site, 'models', m), { recursive: true });
      for (const f of ['model.json', 'group1-shard1of1.bin']) writeFileSync(path.join(site, 'models', m, f), readFileSync(path.join(dir, m, f)));
    }
    // The same classifier with its shard gone.
    mkdirSync(path.join(site, 'models', 'no-shard'), { recursive: true });
    writeFileSync(path.join(site, 'models', 'no-shard', 'model.json'), readFileSync(path.join(dir, 'classifier', 'model.json')));
    server = await serveFolder(site);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Opens the page with the longest main-thread task recorded from the start. */
  async function open(query = ''): Promise<{ page: Page; errors: string[] }> {
    const r = await browser.open(`${server.url}audit.html${query}`, () => {
      const w = window as unknown as { __longest: number };
      w.__longest = 0;
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) w.__longest = Math.max(w.__longest, e.duration);
      }).observe({ type: 'longtask', buffered: true });
    });
    await r.page.waitForSelector('body[data-ready=true]');
    return r;
  }

  async function configure(page: Page, o: { n: number; attacks: string[]; backend?: string; batch?: number; pgdSteps?: number; pixelRange?: string }): Promise<void> {
    await page.fill('input[name=n]', String(o.n));
    await page.fill('input[name=eps]', String(EPS));
    await page.fill('input[name=batchSize]', String(o.batch ?? 10));
    await page.fill('input[name=pgdSteps]', String(o.pgdSteps ?? 5));
    await page.selectOption('select[name=backend]', o.backend ?? 'auto');
    if (o.pixelRange) await page.selectOption('select[name=pixelRange]', o.pixelRange);
    for (const box of await page.locator('input[name=attack]').all()) {
      await box.setChecked(o.attacks.includes(await box.getAttribute('value') ?? ''));
    }
  }

  async function runToEnd(page: Page, timeout = 120_000): Promise<string> {
    await page.click('#run');
    await page.waitForFunction(() => ['done', 'error', 'cancelled'].includes(document.body.dataset['status'] ?? '') , undefined, { timeout });
    return (await page.textContent('#status')) ?? '';
  }

  async function downloadJson(page: Page, link: number): Promise<{ text: string; file: string }> {
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('a.download').nth(link).click()]);
    const file = path.join(dir, download.suggestedFilename());
    await download.saveAs(file);
    return { text: readFileSync(file, 'utf8'), file };
  }

  test('AutoAttack on 20 images in the worker (cpu backend) gives the per-image outcomes of the toolkit in Node; the main thread stays free; the JSON is read back by the toolkit', async () => {
    const { page, errors } = await open('?classifier=models/classifier/model.json');
    await configure(page, { n: 20, attacks: ['aa'], backend: 'cpu', batch: 10 });
    await page.evaluate(() => ((window as unknown as { __longest: number }).__longest = 0));
    const status = await runToEnd(page, 240_000);
    assert.match(status, /^Done/, status);
    const longest = await page.evaluate(() => (window as unknown as { __longest: number }).__longest);
    assert.ok(longest < 200, `longest main-thread task ${longest} ms during the attack`);
    const json = await downloadJson(page, 0);
    const state = await downloadJson(page, 1);
    const payload = JSON.parse(json.text) as EvaluationReport & Record<string, unknown>;

    // Node: the toolkit's own evaluation of the same model.json, images, ε and seed, on cpu.
    await tf.setBackend('cpu');
    const pipeline = await loadPipeline({ model: path.join(dir, 'classifier', 'model.json'), pixelRange: '0-1' });
    const node = evaluate(pipeline.model, test20, { attacks: [parseAttackSpec('aa')], eps: EPS, norm: 'Linf', batchSize: 10, seed: 0 });
    assert.deepEqual(payload.labels, node.labels);
    assert.deepEqual(payload.clean, node.clean);
    assert.equal(payload.attacks.length, 1);
    assert.deepEqual(payload.attacks[0]!.robust, node.attacks[0]!.robust);
    assert.deepEqual(payload.attacks[0]!.stages, node.attacks[0]!.stages);
    assert.equal(payload.unionRobustAccuracy, node.unionRobustAccuracy);
    assert.equal(payload.forwardPasses, node.forwardPasses);
    assert.ok(node.cleanAccuracy > 0.4 && node.attacks[0]!.robustAccuracy < node.cleanAccuracy, `a meaningful case: clean ${node.cleanAccuracy}, AA ${node.attacks[0]!.robustAccuracy}`);
    // Every field `evaluate` reports is in the download, with the CLI's header and leaderboard block.
    // The download has exactly the fields, in the order, of what `jatp eval --json` writes for this run.
    const cli = JSON.parse(JSON.stringify(cliEvalJson(node, { describe: { model: String(payload['model']), dataset: 'fashion-mnist' }, backend: 'cpu', attacksRequested: 'aa' }, pipeline.identity))) as Record<string, unknown>;
    assert.deepEqual(Object.keys(payload), Object.keys(cli));
    assert.deepEqual(payload['leaderboard'], cli['leaderboard']);
    assert.equal(payload['backend'], 'cpu');
    // The toolkit's readers: the eval-JSON reader, and the state reader + merge behind `jatp eval merge`.
    const read = readEvalJson(json.file);
    assert.equal(read.cleanAccuracy, node.cleanAccuracy);
    const merged = assembleReport(mergeStates([{ file: state.file, state: readState(state.file) }]));
    assert.deepEqual(merged.attacks[0]!.robust, node.attacks[0]!.robust);
    // The card shows the numbers with their Wilson intervals.
    const k = Math.round(node.attacks[0]!.robustAccuracy * 20);
    const [lo, hi] = wilson(k, 20);
    const card = (await page.textContent('#accuracy')) ?? '';
    assert.ok(card.includes(`${k} / 20`) && card.includes(`${(100 * lo).toFixed(1)} – ${(100 * hi).toFixed(1)}`), card);
    assert.equal(await page.locator('#fallen figure').count(), Math.min(48, node.clean.filter((c, i) => c && !node.attacks[0]!.robust[i]).length));
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('loads a classifier from dropped files (model.json + shard) and runs PGD on the fastest backend (wasm)', async () => {
    const { page, errors } = await open();
    await page.setInputFiles('#classifier-files', [path.join(dir, 'classifier', 'model.json'), path.join(dir, 'classifier', 'group1-shard1of1.bin')]);
    await configure(page, { n: 10, attacks: ['pgd'], pgdSteps: 5 });
    const status = await runToEnd(page);
    assert.match(status, /^Done .* on wasm \(SIMD on, threads on/, status);
    assert.match((await page.textContent('#accuracy')) ?? '', /pgd5/);
    assert.deepEqual(errors, []);
    await page.close();
  });

  test("a user's labelled image folder is read with its labels", async () => {
    const { page } = await open('?classifier=models/classifier/model.json');
    await page.setInputFiles('#folder', path.join(dir, 'folder'));
    await configure(page, { n: 10, attacks: ['pgd'], pgdSteps: 2, backend: 'cpu' });
    const status = await runToEnd(page);
    assert.match(status, /^Done/, status);
    const payload = JSON.parse((await downloadJson(page, 0)).text) as { labels: number[]; n: number; dataset: string };
    assert.equal(payload.n, 10);
    assert.deepEqual([...payload.labels].sort(), Array.from(test20.labels.subarray(0, 10)).sort());
    assert.match(payload.dataset, /^folder /);
    await page.close();
  });

  test('cancel stops the attack within a second', async () => {
    const { page } = await open('?classifier=models/classifier/model.json');
    await configure(page, { n: 40, attacks: ['aa'], batch: 2 });
    await page.click('#run');
    await page.waitForSelector('[data-stage="aa"]', { timeout: 60_000 });
    const started = Date.now();
    await page.click('#cancel');
    await page.waitForFunction(() => document.body.dataset['status'] === 'cancelled', undefined, { timeout: 1000 });
    const before = await page.textContent('#progress');
    await page.waitForTimeout(1500);
    assert.equal(await page.textContent('#progress'), before, 'progress moved after cancel');
    assert.ok(Date.now() - started < 2500);
    assert.equal(await page.locator('#run').isDisabled(), false);
    await page.close();
  });

  const bad: [string, string, RegExp, ((p: Page) => Promise<void>)?][] = [
    ['a model.json URL that does not load', '?classifier=models/nothing/model.json', /classifier model\.json at models\/nothing\/model\.json could not be loaded \(HTTP 404\)/],
    ['a weight shard missing on the server', '?classifier=models/no-shard/model.json', /weight shard 'group1-shard1of1\.bin' .* is missing/],
    ['a dropped model.json without its shard', '', /weight shard 'group1-shard1of1\.bin' .* is missing: drop the model\.json together with all its \.bin files/, async (p) => p.setInputFiles('#classifier-files', [path.join(dir, 'classifier', 'model.json')])],
    ['an input shape that does not match the images', '?classifier=models/wrong-shape/model.json', /takes 32×32×3 images, but the test images are 28×28×1/],
    ['a class count that does not match the images', '?classifier=models/five-classes/model.json', /outputs 5 values per image, but the test images have 10 classes/],
    ['a pixel range mismatch', '?classifier=models/pixels-255/model.json&pixelRange=0-1', /pixel range mismatch: with pixels in 0-1 .* choose the pixel range 0-255/],
  ];
  for (const [what, query, message, prepare] of bad) {
    test(`bad input shows its message on the page: ${what}`, async () => {
      const { page } = await open(query);
      if (prepare) await prepare(page);
      await configure(page, { n: 20, attacks: ['pgd'], pgdSteps: 1, backend: 'cpu' });
      const status = await runToEnd(page);
      assert.equal(await page.evaluate(() => document.body.dataset['status']), 'error', status);
      assert.match(status, message);
      assert.ok(await page.locator('#status').isVisible());
      await page.close();
    });
  }
});

test('card checks: Square beating the gradient attacks is flagged; Wilson interval matches the closed form', () => {
  const base = { n: 4, eps: 0.1, cleanAccuracy: 1, clean: [true, true, true, true] };
  const flagged = cardChecks({ ...base, unionRobustAccuracy: 0.25, attacks: [{ attack: 'pgd20', robustAccuracy: 0.75, robust: [true, true, true, false] }, { attack: 'square1000', robustAccuracy: 0.25, robust: [true, false, false, false] }] });
  assert.ok(flagged.some((c) => c.status === 'warn' && /Square \(no gradients\) fooled 2 images/.test(c.text)), JSON.stringify(flagged));
  const aa = cardChecks({ ...base, unionRobustAccuracy: 0.25, attacks: [{ attack: 'aa', robustAccuracy: 0.25, robust: [true, false, false, false], stages: [{ name: 'apgd-ce', robustAccuracy: 0.75 }, { name: 'apgd-t', robustAccuracy: 0.5 }, { name: 'fab-t', robustAccuracy: 0.5 }, { name: 'square', robustAccuracy: 0.25 }] }] });
  assert.ok(aa.some((c) => c.status === 'warn' && /Square lowered the accuracy after the gradient stages \(50\.0 % → 25\.0 %\)/.test(c.text)), JSON.stringify(aa));
  const clean = cardChecks({ ...base, unionRobustAccuracy: 0.5, attacks: [{ attack: 'aa', robustAccuracy: 0.5, robust: [true, true, false, false], stages: [{ name: 'apgd-ce', robustAccuracy: 0.5 }, { name: 'apgd-t', robustAccuracy: 0.5 }, { name: 'fab-t', robustAccuracy: 0.5 }, { name: 'square', robustAccuracy: 0.5 }] }] });
  assert.ok(clean.every((c) => c.status === 'pass'), JSON.stringify(clean));
  // Wilson 95 % for 7/20 (closed form, z = 1.959964): 0.1812 .. 0.5671
  const [lo, hi] = wilson(7, 20);
  assert.ok(Math.abs(lo - 0.18117) < 1e-4 && Math.abs(hi - 0.56710) < 1e-4, `${lo} ${hi}`);
});
