/**
 * Screenshot of a running demo after one attack, as in the README:
 *
 *   npm run demo:web &                      # prints the URL
 *   npx tsx packages/demo-web/scripts/screenshot.ts <url> docs/images/demo-web.png [image index] [steps] [pgd|apgd-ce]
 *
 * Uses the same headless chromium as the browser tests.
 */
import { launchBrowser } from '../test/browser.js';

const [url, out, index = '6', steps = '20', attack = 'pgd'] = process.argv.slice(2);
if (url === undefined || out === undefined) {
  process.stderr.write('usage: screenshot.ts <demo url> <out.png> [image index] [steps] [pgd|apgd-ce]\n');
  process.exit(2);
}
const browser = await launchBrowser({ width: 1100, height: 800 });
try {
  const { page, errors } = await browser.open(url);
  await page.waitForFunction(() => ['ready', 'error'].includes(document.body.dataset['status'] ?? ''), null, { timeout: 120_000 });
  await page.locator('#gallery button').nth(Number(index)).click();
  await page.locator('select[name=attack]').selectOption(attack);
  await page.locator('input[name=steps]').fill(steps);
  // Clicked from inside the page: the attack then blocks the page's thread, which a playwright
  // click would wait on as if it were a navigation.
  await page.evaluate(() => document.getElementById('run')!.click());
  await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset['status'] ?? ''), null, { timeout: 600_000, polling: 1000 });
  await page.screenshot({ path: out, fullPage: true });
  const status = await page.evaluate(() => document.getElementById('status')!.textContent);
  process.stdout.write(`${status}\nwrote ${out}${errors.length ? `\nconsole errors:\n${errors.join('\n')}` : ''}\n`);
} finally {
  await browser.close();
}
