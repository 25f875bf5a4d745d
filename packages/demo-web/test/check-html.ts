/**
 * Command-line form of `checkHtmlRenders`, to check any page by hand or from another test:
 *
 *   npx tsx packages/demo-web/test/check-html.ts report/index.html table=1 svg=1 [--screenshot out.png]
 *
 * Prints the element counts and every problem; exits 1 when the page did not render.
 */
import { browserSkipReason, checkHtmlRenders, launchBrowser } from './browser.js';

const args = process.argv.slice(2);
const shotAt = args.indexOf('--screenshot');
const screenshot = shotAt >= 0 ? args.splice(shotAt, 2)[1] : undefined;
const [file, ...pairs] = args;
if (file === undefined) {
  process.stderr.write('usage: check-html.ts <file.html|url> [selector=min ...] [--screenshot out.png]\n');
  process.exit(2);
}
const expect: Record<string, number> = {};
for (const pair of pairs) {
  const at = pair.lastIndexOf('=');
  const min = Number(pair.slice(at + 1));
  if (at < 1 || !Number.isInteger(min) || min < 0) {
    process.stderr.write(`check-html: '${pair}' is not selector=<count>\n`);
    process.exit(2);
  }
  expect[pair.slice(0, at)] = min;
}
const skip = browserSkipReason();
if (skip) {
  process.stderr.write(`check-html: ${skip}\n`);
  process.exit(2);
}
const browser = await launchBrowser();
try {
  const r = await checkHtmlRenders(browser, file, { expect, ...(screenshot ? { screenshot } : {}) });
  process.stdout.write(`${JSON.stringify(r.counts)}\n${r.problems.length === 0 ? 'rendered: ok' : r.problems.join('\n')}\n`);
  process.exitCode = r.problems.length === 0 ? 0 : 1;
} finally {
  await browser.close();
}
