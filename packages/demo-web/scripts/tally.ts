/**
 * Runs the page's attack on every bundled image, in the page, and counts per pipeline how often the
 * adversarial image is misclassified: the numbers behind the rows the page shows one image at a time.
 *
 *   npm run demo:web -- --build-only                   # writes runs/demo-web/site
 *   npx tsx packages/demo-web/scripts/tally.ts runs/demo-web/site [steps] [pgd|apgd-ce] [backend]
 *
 * The first argument is a site folder (served here on a free port) or the URL of a running demo.
 * One line per image, then one per pipeline; uses the same headless chromium as the browser tests.
 */
import { existsSync } from 'node:fs';
import { launchBrowser } from '../test/browser.js';
import { serveFolder, type StaticServer } from './static-server.js';
import type { DemoState } from '../src/main.js';

const [site, steps = '20', attack = 'pgd', backend] = process.argv.slice(2);
if (site === undefined || !['pgd', 'apgd-ce'].includes(attack) || !(Number(steps) >= 1)) {
  process.stderr.write('usage: tally.ts <site dir | demo url> [steps >= 1] [pgd|apgd-ce] [webgl|wasm|cpu]\n');
  process.exit(2);
}
let server: StaticServer | undefined;
if (!/^https?:/.test(site)) {
  if (!existsSync(site)) throw new Error(`tally.ts: '${site}' is neither a URL nor a site folder`);
  server = await serveFolder(site);
}
const url = `${server?.url ?? site}${backend === undefined ? '' : `?backend=${backend}`}`;
const browser = await launchBrowser();
try {
  const { page, errors } = await browser.open(url);
  await page.waitForFunction(() => ['ready', 'error'].includes(document.body.dataset['status'] ?? ''), null, { timeout: 120_000 });
  const count = await page.locator('#gallery button').count();
  const classNames = await page.evaluate(async () => ((await (await fetch('demo.json')).json()) as { classNames: string[] }).classNames);
  const fooled = new Map<string, number>();
  const wrongNatural = new Map<string, number>();
  let usedBackend = '';
  for (let i = 0; i < count; i++) {
    const results = (await page.evaluate(
      async ([index, settings]) => {
        await window.jatpDemo.select!(index);
        await window.jatpDemo.run!(settings);
        if (window.jatpDemo.status !== 'done') throw new Error(window.jatpDemo.error ?? window.jatpDemo.status);
        return { results: window.jatpDemo.results!, backend: window.jatpDemo.backend! };
      },
      [i, { attack: attack as 'pgd' | 'apgd-ce', steps: Number(steps) }] as const,
    )) as { results: NonNullable<DemoState['results']>; backend: string };
    usedBackend = results.backend;
    const cells = results.results.map((r) => {
      const isFooled = r.adversarial.label !== r.label;
      fooled.set(r.pipeline, (fooled.get(r.pipeline) ?? 0) + (isFooled ? 1 : 0));
      wrongNatural.set(r.pipeline, (wrongNatural.get(r.pipeline) ?? 0) + (r.natural.label !== r.label ? 1 : 0));
      return `${r.pipeline} ${classNames[r.natural.label]} -> ${classNames[r.adversarial.label]}${isFooled ? ' (fooled)' : ''} ${r.msPerStep.toFixed(0)} ms/step`;
    });
    process.stdout.write(`image ${i} (${classNames[results.results[0]!.label]}): ${cells.join('; ')}\n`);
  }
  process.stdout.write(`${attack}, ${steps} steps, default eps of the site, on ${usedBackend}, ${count} images:\n`);
  for (const [id, n] of fooled) {
    process.stdout.write(`  ${id}: fooled on ${n}/${count} (of which misclassified without attack: ${wrongNatural.get(id)})\n`);
  }
  if (errors.length) process.stdout.write(`console errors:\n${errors.join('\n')}\n`);
} finally {
  await browser.close();
  await server?.close();
}
