/**
 * The demo in a real browser (headless Debian chromium): it loads without console errors, its
 * predictions on the bundled natural images equal Node's for the same weights (the page runs tfjs
 * webgl, Node the toolkit's default backend), an attack started from the page's form runs to
 * completion on all three pipelines (T, T behind a baseline, T behind JATP) within its budget, and a
 * screenshot is left in runs/browser-tests/; without a baseline the page shows two rows. The models
 * are made here: a tiny small-CNN saved as a run folder (the export path of `demo:web`), a tiny JATP
 * purifier exported to tfjs beforehand (the model.json path) and an APE-G generator as a bare
 * .safetensors file.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from 'jatp';
import { loadDataset } from 'jatp/data';
import { buildNetwork, saveNetwork, exportTfjsModel } from 'jatp/models';
import type { Network } from 'jatp/models';
import { buildSite } from '../scripts/site.js';
import { serveFolder, type StaticServer } from '../scripts/static-server.js';
import type { DemoConfig } from '../src/config.js';
import type { DemoState } from '../src/main.js';
import { ARTIFACTS, browserSkipReason, launchBrowser, type Browser } from './browser.js';

const DATASET_DIR = '/usr/share/datasets/fashion-mnist';
const skip = browserSkipReason() ?? (existsSync(DATASET_DIR) ? undefined : `no Fashion-MNIST in ${DATASET_DIR} (Debian package dataset-fashion-mnist)`);

/**
 * A few Adam steps on 500 training images, so the tiny classifier predicts different classes for
 * different images (a random one predicts nearly the same everywhere, which would make the
 * Node-vs-browser comparison weak).
 */
async function quickTrain(T: Network): Promise<void> {
  const ds = await loadDataset('fashion-mnist');
  const n = 500;
  const [h, w, c] = ds.imageShape;
  const x = tf.tidy(() => tf.div(tf.tensor4d(ds.train.images.subarray(0, n * h * w * c), [n, h, w, c], 'float32'), 255)) as tf.Tensor4D;
  const y = tf.oneHot(tf.tensor1d(ds.train.labels.subarray(0, n), 'int32'), 10);
  const opt = tf.train.adam(0.02);
  for (let step = 0; step < 25; step++) {
    const start = (step * 100) % n;
    const cost = opt.minimize(
      () => tf.losses.softmaxCrossEntropy(tf.slice(y, [start, 0], [100, 10]), T.apply(tf.slice(x, [start, 0, 0, 0], [100, h, w, c]), true) as tf.Tensor2D) as tf.Scalar,
      true,
      T.trainableVariables(),
    );
    cost?.dispose();
  }
  opt.dispose();
  tf.dispose([x, y]);
}

type Ids = 'classifier' | 'baseline' | 'defended';
const IDS: readonly Ids[] = ['classifier', 'baseline', 'defended'];

/** Softmax outputs of T(x), T(clip01(B(x))) and T(clip01(P(x))) on the bundled images, computed in Node. */
function nodePredictions(T: Network, B: Network, P: Network, config: DemoConfig): Record<Ids, number[][]> {
  const [h, w, c] = config.imageShape;
  return tf.tidy(() => {
    const x = tf.concat(
      config.images.map((img) => tf.div(tf.tensor4d(Uint8Array.from(Buffer.from(img.pixelsBase64, 'base64')), [1, h, w, c], 'float32'), 255)),
    ) as tf.Tensor4D;
    const behind = (pre: Network): number[][] => tf.softmax(T.apply(tf.clipByValue(pre.apply(x, false), 0, 1) as tf.Tensor4D, false)).arraySync() as number[][];
    return { classifier: tf.softmax(T.apply(x, false)).arraySync() as number[][], baseline: behind(B), defended: behind(P) };
  });
}

describe('demo-web in headless chromium', { skip }, () => {
  let dir: string;
  let server: StaticServer;
  let browser: Browser;
  let config: DemoConfig;
  let want: Record<Ids, number[][]>;

  before(async () => {
    await initBackend();
    dir = mkdtempSync(path.join(tmpdir(), 'jatp-demo-'));
    const shape = { inChannels: 1, inputSize: 28 };
    const T = buildNetwork('small-cnn', { ...shape, width: 2, seed: 3 });
    const P = buildNetwork('jatp-purifier', { ...shape, nf: 4, gc: 2, nb: 1, seed: 4 });
    const B = buildNetwork('apeg-generator', { ...shape, seed: 5 });
    await quickTrain(T);
    await saveNetwork(T, path.join(dir, 'target', 'model.safetensors'), { dataset: 'fashion-mnist' });
    await exportTfjsModel(P, path.join(dir, 'purifier-tfjs'));
    await saveNetwork(B, path.join(dir, 'apeg.safetensors'), { dataset: 'fashion-mnist' });
    config = await buildSite({
      outDir: path.join(dir, 'site'),
      classifier: path.join(dir, 'target'),
      preprocessor: path.join(dir, 'purifier-tfjs'),
      baseline: path.join(dir, 'apeg.safetensors'),
    });
    want = nodePredictions(T, B, P, config);
    T.dispose();
    P.dispose();
    B.dispose();
    server = await serveFolder(path.join(dir, 'site'));
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('loads without console errors, predicts as Node does, and runs an attack from its form', async () => {
    assert.equal(config.images.length, 10, 'one test image per Fashion-MNIST class');
    assert.deepEqual(config.images.map((i) => i.label), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const { page, errors } = await browser.open(server.url);
    await page.waitForFunction(() => ['ready', 'error'].includes(document.body.dataset['status'] ?? ''), null, { timeout: 60_000 });
    const loaded = (await page.evaluate(() => ({ ...window.jatpDemo }))) as DemoState;
    assert.equal(loaded.status, 'ready', `page status: ${loaded.error ?? ''}`);
    assert.deepEqual(errors, [], 'no console errors while loading');
    assert.equal(await page.locator('#gallery button').count(), 10);

    // The same weights give the same predictions in the page as in Node.
    assert.deepEqual(Object.keys(loaded.bundledPredictions!), [...IDS], 'the page predicts with all three pipelines, in this order');
    assert.equal(await page.locator('#rows-note').isVisible(), true, 'the note on what the rows mean is shown');
    for (const id of IDS) {
      const got = loaded.bundledPredictions![id]!;
      assert.equal(got.length, want[id].length);
      const argmax = (p: number[]): number => p.indexOf(Math.max(...p));
      assert.deepEqual(got.map((g) => g.label), want[id].map(argmax), `${id}: predicted classes (page on ${loaded.backend} vs Node)`);
      let maxDiff = 0;
      got.forEach((g, i) => g.probabilities.forEach((p, k) => (maxDiff = Math.max(maxDiff, Math.abs(p - want[id][i]![k]!)))));
      assert.ok(maxDiff < 1e-3, `${id}: probabilities differ by up to ${maxDiff}`);
    }
    const distinct = new Set(want.classifier.map((p) => p.indexOf(Math.max(...p)))).size;
    assert.ok(distinct >= 3, `the fixture classifier predicts ${distinct} distinct classes on the 10 images; the comparison needs several`);

    // Attack the third image (Pullover) through the form, as a user would.
    await page.locator('#gallery button').nth(2).click();
    await page.locator('select[name=attack]').selectOption('apgd-ce');
    await page.locator('input[name=steps]').fill('5');
    await page.locator('#run').click();
    await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset['status'] ?? ''), null, { timeout: 60_000 });
    const done = (await page.evaluate(() => ({ status: window.jatpDemo.status, error: window.jatpDemo.error, results: window.jatpDemo.results, numTensors: window.jatpDemo.numTensors }))) as DemoState;
    assert.equal(done.status, 'done', `attack: ${done.error ?? ''}`);
    assert.deepEqual(done.results!.map((r) => r.pipeline), [...IDS]);
    for (const r of done.results!) {
      assert.equal(r.attackName, 'apgd-ce');
      assert.equal(r.label, 2);
      assert.ok(r.linf <= config.defaults.eps + 1e-6, `${r.pipeline}: L∞ ${r.linf} within ε = ${config.defaults.eps}`);
      assert.ok(r.l1 >= r.linf, `${r.pipeline}: L1 ${r.l1} >= L∞ ${r.linf}`);
      assert.ok(r.msPerStep > 0 && Number.isFinite(r.msPerStep));
      // APGD returns the clean image for points it did not fool (spec §5.3), so a failure means x_adv = x.
      assert.equal(r.success, r.adversarial.label !== r.label, `${r.pipeline}: success matches the adversarial prediction`);
    }
    assert.equal(done.results![0]!.l1PurifiedVsNatural, undefined);
    for (const r of done.results!.slice(1)) {
      assert.ok(r.l1PurifiedVsNatural !== undefined, `${r.pipeline}: L1 of the purified image`);
      assert.equal(await page.locator(`[data-testid=${r.pipeline}-purified-adversarial] canvas`).count(), 1);
    }
    // A second run (from the page's API, PGD this time) replaces the first one's tensors, leaking none.
    await page.evaluate(() => window.jatpDemo.run!({ attack: 'pgd', steps: 3 }));
    const again = (await page.evaluate(() => ({ status: window.jatpDemo.status, numTensors: window.jatpDemo.numTensors, names: window.jatpDemo.results!.map((r) => r.attackName) }))) as DemoState & { names: string[] };
    assert.equal(again.status, 'done');
    assert.deepEqual(again.names, ['pgd-ce-Linf-3', 'pgd-ce-Linf-3', 'pgd-ce-Linf-3']);
    assert.equal(again.numTensors, done.numTensors, 'tf.memory().numTensors is the same after a second attack');
    assert.deepEqual(errors, [], 'no console errors during the attacks');
    const shot = await page.screenshot({ path: path.join(ARTIFACTS, 'demo-web.png'), fullPage: true });
    assert.ok(existsSync(path.join(ARTIFACTS, 'demo-web.png')));

    // A user's own image (here: that colour screenshot) is resized to 28x28 grey and attacked with
    // the classifier's prediction on it as the label.
    await page.locator('#file').setInputFiles({ name: 'screenshot.png', mimeType: 'image/png', buffer: shot });
    await page.waitForFunction(() => document.getElementById('status')!.textContent!.startsWith('Dropped image'), null, { timeout: 30_000 });
    await page.evaluate(() => window.jatpDemo.run!({ attack: 'pgd', steps: 2 }));
    const dropped = (await page.evaluate(() => ({ status: window.jatpDemo.status, results: window.jatpDemo.results }))) as DemoState;
    assert.equal(dropped.status, 'done');
    assert.equal(dropped.results![0]!.label, dropped.results![0]!.natural.label, 'label of a dropped image = the classifier\'s prediction');
    assert.deepEqual(errors, [], 'no console errors with a dropped image');
    await page.close();
  });

  test('without WebGL the page skips wasm (no conv filter gradient) and attacks on cpu', async () => {
    const { page, errors } = await browser.open(`${server.url}`, () => {
      // A browser without WebGL: every canvas refuses webgl, webgl2 and experimental-webgl contexts.
      for (const proto of [HTMLCanvasElement.prototype, OffscreenCanvas.prototype] as Array<{ getContext: (...a: unknown[]) => unknown }>) {
        const original = proto.getContext;
        proto.getContext = function (this: unknown, kind: unknown, ...rest: unknown[]) {
          return /webgl/i.test(String(kind)) ? null : original.call(this, kind, ...rest);
        };
      }
    });
    await page.waitForFunction(() => ['ready', 'error'].includes(document.body.dataset['status'] ?? ''), null, { timeout: 60_000 });
    const state = (await page.evaluate(() => ({ status: window.jatpDemo.status, error: window.jatpDemo.error, backend: window.jatpDemo.backend, skipped: window.jatpDemo.backendsSkipped }))) as DemoState & { skipped: string[] };
    assert.equal(state.status, 'ready', state.error ?? '');
    assert.equal(state.backend, 'cpu');
    assert.equal(state.skipped.length, 2, state.skipped.join('; '));
    assert.match(state.skipped[0]!, /^webgl: /);
    assert.match(state.skipped[1]!, /^wasm: cannot differentiate a convolution \(.*Conv2DBackpropFilter/);
    await page.evaluate(() => window.jatpDemo.run!({ attack: 'pgd', steps: 2 }));
    assert.equal(await page.evaluate(() => window.jatpDemo.status), 'done');
    assert.deepEqual(errors.filter((e) => !/webgl/i.test(e)), [], 'no console errors besides tfjs reporting the missing WebGL');
    await page.close();
  });

  test('without a baseline the page shows two rows, and no note on them', async () => {
    const outDir = path.join(dir, 'site-no-baseline');
    const two = await buildSite({ outDir, classifier: path.join(dir, 'target'), preprocessor: path.join(dir, 'purifier-tfjs') });
    assert.equal(two.baseline, undefined);
    const local = await serveFolder(outDir);
    try {
      const { page, errors } = await browser.open(local.url);
      await page.waitForFunction(() => ['ready', 'error'].includes(document.body.dataset['status'] ?? ''), null, { timeout: 60_000 });
      assert.equal(await page.evaluate(() => window.jatpDemo.status), 'ready');
      assert.deepEqual(await page.evaluate(() => Object.keys(window.jatpDemo.bundledPredictions!)), ['classifier', 'defended']);
      assert.equal(await page.locator('#rows-note').isVisible(), false);
      await page.evaluate(() => window.jatpDemo.run!({ attack: 'pgd', steps: 1 }));
      assert.deepEqual(await page.evaluate(() => window.jatpDemo.results!.map((r) => r.pipeline)), ['classifier', 'defended']);
      assert.equal(await page.locator('[data-testid=result-baseline]').count(), 0);
      assert.deepEqual(errors, []);
      await page.close();
    } finally {
      await local.close();
    }
  });

  test('a classifier in place of a pre-processor is refused with the flag named', async () => {
    for (const role of ['preprocessor', 'baseline'] as const) {
      await assert.rejects(
        buildSite({ outDir: path.join(dir, 'bad-site'), classifier: path.join(dir, 'target'), [role]: path.join(dir, 'target') }),
        new RegExp(`--${role}: .* holds a small-cnn \\(a classifier\\), not a preprocessor`),
      );
      assert.ok(!existsSync(path.join(dir, 'bad-site')), 'nothing half-built is left behind');
    }
  });
});
