/**
 * The experiment report (`jatp experiment … --scale smoke` → `<out>/report/index.html`) opened in
 * headless chromium: every table and SVG chart of the page is there and drawn with a non-zero size,
 * the inlined images decode, nothing is logged as an error, and the page asks for nothing outside
 * file:// (it promises to open offline).
 *
 * The report comes from the quick-start experiment at smoke scale, the cheapest one that has a
 * results table, a bar chart, an image grid, training curves and a judged gradient-masking section
 * (it runs BPDA and PGD on APE-G and JATP).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { PNG } from 'pngjs';
import { runExperiment } from 'jatp/cli';
import { ARTIFACTS, browserSkipReason, checkHtmlRenders, launchBrowser, type Browser } from './browser.js';

/** <dir>/{train,test}/class<c>/<i>.png: 4 classes of 16×16 RGB images, class c brighter in channel c mod 3 (4 classes: targeted DLR needs them). */
function writeFolderDataset(dir: string): void {
  for (const [split, n] of [['train', 5], ['test', 3]] as const) {
    for (let c = 0; c < 4; c++) {
      const classDir = path.join(dir, split, `class${c}`);
      mkdirSync(classDir, { recursive: true });
      for (let i = 0; i < n; i++) {
        const png = new PNG({ width: 16, height: 16 });
        for (let p = 0; p < 256; p++) {
          for (let k = 0; k < 3; k++) png.data[4 * p + k] = (k === c % 3 ? 140 : 30) + ((p * 29 + i * 13 + k * 7 + (split === 'test' ? 5 : 0)) % 80);
          png.data[4 * p + 3] = 255;
        }
        writeFileSync(path.join(classDir, `${i}.png`), PNG.sync.write(png));
      }
    }
  }
}

/** What the page must show, counted in the HTML text the report wrote (not by the browser). */
function countInSource(html: string): { tables: number; svgs: number; images: number } {
  // Charts are top-level <svg> elements; nested ones would be counted by the browser check anyway.
  return { tables: (html.match(/<table[\s>]/g) ?? []).length, svgs: (html.match(/<svg[\s>]/g) ?? []).length, images: (html.match(/<img[\s>]/g) ?? []).length };
}

describe('experiment report index.html renders in headless chromium', { skip: browserSkipReason() }, () => {
  let root: string;
  let index: string;
  let browser: Browser;
  before(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'jatp-exp-report-html-'));
    writeFolderDataset(path.join(root, 'data'));
    const flags = { scale: 'smoke', dataset: `folder:${path.join(root, 'data')}`, seeds: '1', out: path.join(root, 'exp'), quiet: true };
    const r = await runExperiment('quickstart', flags, ['node', 'jatp', 'experiment', 'quickstart', '--scale', 'smoke']);
    assert.equal(r.interrupted, false);
    index = r.report;
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  test('every table, chart and image is drawn, with no errors and no network', async () => {
    const want = countInSource(readFileSync(index, 'utf8'));
    // Quick-start table, gradient-masking table, image grids, provenance; its chart and training curves.
    assert.ok(want.tables >= 4 && want.svgs >= 2 && want.images >= 4, `report too small: ${JSON.stringify(want)}`);

    // Console errors, failed loads, element counts and SVG sizes: the shared helper.
    const r = await checkHtmlRenders(browser, index, {
      expect: { table: want.tables, svg: want.svgs, img: want.images, 'section#quickstart table': 1, 'section#quickstart svg': 1, 'section#sanity table': 1, 'section#sanity td.pass, section#sanity td.warn': 2 },
      screenshot: path.join(ARTIFACTS, 'experiment-report.png'),
    });
    assert.deepEqual(r.problems, []);

    // Then what the helper does not look at: every request, table sizes (inside opened <details>
    // too), decoded images.
    const requests: string[] = [];
    const onRequest = (req: { url(): string }) => requests.push(req.url());
    browser.context.on('request', onRequest);
    const { page, errors } = await browser.open(pathToFileURL(index).href);
    try {
      await page.waitForLoadState('load');
      const drawn = await page.evaluate(async () => {
        for (const d of document.querySelectorAll('details')) d.open = true;
        await Promise.all([...document.images].map((im) => im.decode().catch(() => undefined)));
        // No named helper functions in here: tsx would wrap them in a __name() the page lacks.
        const sized = [...document.querySelectorAll('table'), ...document.images].map((e) => {
          const b = e.getBoundingClientRect();
          return { tag: e.tagName, flat: b.width === 0 || b.height === 0 };
        });
        return {
          tables: document.querySelectorAll('table').length,
          flatTables: sized.filter((s) => s.tag === 'TABLE' && s.flat).length,
          brokenImages: [...document.images].filter((im) => !im.complete || im.naturalWidth === 0).map((im) => im.alt),
          flatImages: sized.filter((s) => s.tag === 'IMG' && s.flat).length,
        };
      });
      assert.equal(drawn.tables, want.tables);
      assert.equal(drawn.flatTables, 0, 'a table drawn with zero size');
      assert.deepEqual(drawn.brokenImages, [], 'images that did not decode');
      assert.equal(drawn.flatImages, 0, 'an image drawn with zero size');
      assert.deepEqual(errors, []);
    } finally {
      browser.context.off('request', onRequest);
      await page.close();
    }
    assert.ok(requests.length >= 1, 'the request listener saw nothing (not even the page itself)');
    const outside = requests.filter((u) => !u.startsWith('file://') && !u.startsWith('data:'));
    assert.deepEqual(outside, [], 'the report asked for something outside file://');
  });
});
