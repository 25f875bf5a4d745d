/**
 * The README's screenshot of the audit page: a small CNN trained here for a few seconds on
 * Fashion-MNIST (test images 1000–2999; not a robust model), audited on the first 40 bundled test
 * images with PGD-20, APGD-CE and Square-1000 at ε = 0.1 on the automatic backend.
 *
 *   npx tsx packages/demo-web/scripts/audit-screenshot.ts docs/images/audit-web.png
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadTestSplit } from 'jatp';
import { buildAuditSite, FASHION_MNIST_DIR } from './audit-site.js';
import { serveFolder } from './static-server.js';
import { launchBrowser } from '../test/browser.js';

const out = process.argv[2] ?? 'docs/images/audit-web.png';
const dir = mkdtempSync(path.join(tmpdir(), 'jatp-audit-shot-'));
try {
  await tf.setBackend('cpu');
  const { test } = await loadTestSplit('fashion-mnist', { dataDir: FASHION_MNIST_DIR });
  const size = 28 * 28;
  const xs = tf.tidy(() => tf.div(tf.tensor4d(Float32Array.from(test.images.subarray(1000 * size, 3000 * size)), [2000, 28, 28, 1]), 255));
  const ys = tf.oneHot(tf.tensor1d(Array.from(test.labels.subarray(1000, 3000)), 'int32'), 10);
  const init = (s: number) => tf.initializers.glorotUniform({ seed: s });
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: init(1) }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 10, kernelInitializer: init(2) }),
    ],
  });
  model.compile({ optimizer: tf.train.adam(0.01), loss: tf.losses.softmaxCrossEntropy });
  await model.fit(xs, ys, { epochs: 3, batchSize: 100, shuffle: false, verbose: 0 });
  const modelDir = path.join(dir, 'my-model');
  mkdirSync(modelDir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      writeFileSync(path.join(modelDir, 'group1-shard1of1.bin'), new Uint8Array(a.weightData as ArrayBuffer));
      writeFileSync(path.join(modelDir, 'model.json'), JSON.stringify({ format: 'layers-model', modelTopology: a.modelTopology, weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: a.weightSpecs }] }));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const site = path.join(dir, 'site');
  const { query } = await buildAuditSite({ outDir: site, classifier: modelDir });
  const server = await serveFolder(site);
  const browser = await launchBrowser({ width: 1100, height: 900 });
  try {
    const { page, errors } = await browser.open(`${server.url}audit.html${query}`);
    await page.waitForSelector('body[data-ready=true]');
    await page.fill('input[name=n]', '40');
    await page.fill('input[name=squareQueries]', '1000');
    for (const a of ['apgd-ce', 'square']) await page.locator(`input[name=attack][value="${a}"]`).check();
    await page.click('#run');
    await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset['status'] ?? ''), null, { timeout: 600_000 });
    await page.screenshot({ path: out, fullPage: true });
    process.stdout.write(`${await page.textContent('#status')}\nwrote ${out}${errors.length ? `\nerrors:\n${errors.join('\n')}` : ''}\n`);
  } finally {
    await browser.close();
    await server.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
