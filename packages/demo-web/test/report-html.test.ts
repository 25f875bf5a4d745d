/**
 * The experiment report opened in a real browser with the reusable `checkHtmlRenders` helper.
 * Today `jatp report --out` writes table.md + accuracy.svg, so the SVG chart is what a browser can
 * render; a report with an index.html is checked by adding one entry to PAGES (its tables and
 * charts as selectors), or by hand: npx tsx packages/demo-web/test/check-html.ts <file> table=1 svg=1.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { runReport } from 'jatp/cli';
import { ARTIFACTS, browserSkipReason, checkHtmlRenders, launchBrowser, type Browser } from './browser.js';

/** A `jatp eval --json` result with the fields the report reads. */
function evalJson(clean: number, robust: Record<string, number>): string {
  return JSON.stringify({
    model: 'runs/target',
    dataset: 'fashion-mnist',
    n: 100,
    eps: 0.1,
    norm: 'Linf',
    cleanAccuracy: clean,
    attacks: Object.entries(robust).map(([attack, robustAccuracy]) => ({ attack, robustAccuracy, meanL1AdvVsNatural: 20 })),
  });
}

describe('jatp report output renders in headless chromium', { skip: browserSkipReason() }, () => {
  let dir: string;
  let browser: Browser;
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'jatp-report-html-'));
    writeFileSync(path.join(dir, 'none.json'), evalJson(0.7, { 'pgd-20': 0.5, 'apgd-ce': 0.49 }));
    writeFileSync(path.join(dir, 'jatp.json'), evalJson(0.68, { 'pgd-20': 0.55, 'apgd-ce': 0.52 }));
    const stderr = process.stderr.write.bind(process.stderr);
    const stdout = process.stdout.write.bind(process.stdout);
    // runReport prints its table; keep the test output to TAP.
    process.stdout.write = () => true;
    process.stderr.write = () => true;
    try {
      await runReport([`None=${path.join(dir, 'none.json')}`, `JATP=${path.join(dir, 'jatp.json')}`], { out: path.join(dir, 'report'), title: 'Robust accuracy' });
    } finally {
      process.stdout.write = stdout;
      process.stderr.write = stderr;
    }
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('the accuracy chart draws one bar per defense and column, with no errors', async () => {
    // 2 defenses x 3 columns (Natural + 2 attacks) bars, plus the background and 2 legend swatches.
    const r = await checkHtmlRenders(browser, path.join(dir, 'report', 'accuracy.svg'), {
      expect: { svg: 1, 'svg rect': 2 * 3 + 3, 'svg text': 3 },
      screenshot: path.join(ARTIFACTS, 'report-accuracy.png'),
    });
    assert.deepEqual(r.problems, []);
  });

  test('the helper reports what is missing, so a broken page fails', async () => {
    const broken = path.join(dir, 'broken.html');
    writeFileSync(broken, '<!doctype html><title>x</title><table></table><script>console.error("boom")</script>');
    const r = await checkHtmlRenders(browser, broken, { expect: { table: 1, svg: 1 } });
    assert.deepEqual(r.counts, { table: 1, svg: 0 });
    assert.deepEqual(r.problems.sort(), ["1 table(s) without rows", 'console.error: boom', "expected at least 1 × 'svg', found 0"].sort());
    const missing = await checkHtmlRenders(browser, path.join(dir, 'nope.html'), { expect: {} });
    assert.match(missing.problems[0]!, /nope\.html does not exist/);
  });
});
