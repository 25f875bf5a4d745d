/**
 * Headless Chromium for the tests, and a reusable check that an HTML page rendered.
 *
 * The browser is Debian's `chromium` (bootstrap.sh installs it), driven by playwright-core and
 * pointed at the system executable, so nothing downloads a browser. Every launch gets a new, empty
 * user-data folder that is removed on close. `JATP_CHROMIUM` points at another executable.
 *
 *   const reason = browserSkipReason();              // a sentence, or undefined when a browser exists
 *   const b = await launchBrowser();
 *   const r = await checkHtmlRenders(b, 'report/index.html', { expect: { table: 1, svg: 1 } });
 *   assert.deepEqual(r.problems, []);
 *   await b.close();
 */
import { existsSync, mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env['JATP_CHROMIUM'] ?? '/usr/bin/chromium';

/** Where tests leave screenshots: under runs/ (ignored by git) at the repository root. */
export const ARTIFACTS = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..', '..', 'runs', 'browser-tests');

/** Why browser tests cannot run here, or undefined when they can. */
export function browserSkipReason(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  // bootstrap.sh installs chromium: under CI=true the browser tests run, and fail to launch, instead of skipping.
  if (process.env.CI === 'true') return undefined;
  return `no browser: ${CHROMIUM} is missing (install Debian's chromium, e.g. ./bootstrap.sh, or set JATP_CHROMIUM)`;
}

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Browser {
  readonly context: BrowserContext;
  /**
   * Opens `url` in a new page that records console errors, uncaught exceptions and failed requests.
   * `initScript` runs in the page before any of its own scripts (e.g. to take WebGL away).
   */
  open(url: string, initScript?: () => void): Promise<{ page: Page; errors: string[] }>;
  close(): Promise<void>;
}

export async function launchBrowser(viewport = { width: 1200, height: 900 }): Promise<Browser> {
  const userData = mkdtempSync(path.join(tmpdir(), 'jatp-chromium-'));
  const context = await chromium.launchPersistentContext(userData, { executablePath: CHROMIUM, args: FLAGS, viewport });
  return {
    context,
    async open(url, initScript) {
      const page = await context.newPage();
      if (initScript) await page.addInitScript(initScript);
      const errors: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(`console.error: ${m.text()}`);
      });
      page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
      page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()} (${r.failure()?.errorText ?? '?'})`));
      page.on('response', (r) => {
        if (r.status() >= 400) errors.push(`HTTP ${r.status()}: ${r.url()}`);
      });
      await page.goto(url);
      return { page, errors };
    },
    async close() {
      await context.close();
      rmSync(userData, { recursive: true, force: true });
    },
  };
}

export interface RenderCheck {
  /** Minimum number of elements per CSS selector, e.g. { table: 1, svg: 1, 'svg rect': 4 }. */
  readonly expect: Readonly<Record<string, number>>;
  /** Also write a full-page screenshot here. */
  readonly screenshot?: string;
}

export interface RenderResult {
  /** Elements found per selector of `expect`. */
  readonly counts: Record<string, number>;
  /** Everything wrong: console errors, missing elements, empty tables, SVGs drawn with no size. Empty = rendered. */
  readonly problems: string[];
}

/**
 * Opens an HTML (or SVG) file or URL and checks that it rendered: no console errors, uncaught
 * exceptions or failed loads; at least the expected number of each selector; every table has a
 * row; every top-level SVG has a non-zero drawn size.
 */
export async function checkHtmlRenders(browser: Browser, fileOrUrl: string, check: RenderCheck): Promise<RenderResult> {
  const url = /^[a-z]+:\/\//.test(fileOrUrl) ? fileOrUrl : pathToFileURL(path.resolve(fileOrUrl)).href;
  if (url.startsWith('file:') && !existsSync(new URL(url))) return { counts: {}, problems: [`${fileOrUrl} does not exist`] };
  const { page, errors } = await browser.open(url);
  try {
    await page.waitForLoadState('load');
    const counts: Record<string, number> = {};
    const problems: string[] = [...errors];
    for (const [selector, min] of Object.entries(check.expect)) {
      counts[selector] = await page.locator(selector).count();
      if (counts[selector]! < min) problems.push(`expected at least ${min} × '${selector}', found ${counts[selector]}`);
    }
    const emptyTables = await page.evaluate(() => [...document.querySelectorAll('table')].filter((t) => t.rows.length === 0).length);
    if (emptyTables > 0) problems.push(`${emptyTables} table(s) without rows`);
    const flatSvgs = await page.evaluate(
      () =>
        [...document.querySelectorAll('svg')]
          .filter((s) => !s.parentElement?.closest('svg'))
          .filter((s) => {
            const r = s.getBoundingClientRect();
            return r.width === 0 || r.height === 0;
          }).length,
    );
    if (flatSvgs > 0) problems.push(`${flatSvgs} SVG(s) drawn with zero size`);
    if (check.screenshot) {
      mkdirSync(path.dirname(check.screenshot), { recursive: true });
      // A full-page shot measures document.body, which a standalone SVG document lacks (it then hangs).
      const html = await page.evaluate(() => document.body !== null);
      await page.screenshot({ path: check.screenshot, fullPage: html });
    }
    return { counts, problems };
  } finally {
    await page.close();
  }
}
