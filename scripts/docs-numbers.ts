/**
 * Rewrites the generated number blocks of README.md and docs/*.md from the committed results files
 * they name (`<!-- numbers <results.json> <what> -->` ... `<!-- /numbers -->`, see
 * packages/jatp/src/experiments/suite/docs-numbers.ts). `--check` changes nothing and exits 1 when a
 * block differs from what the committed results give.
 *
 *     npx tsx scripts/docs-numbers.ts          # rewrite
 *     npx tsx scripts/docs-numbers.ts --check  # verify
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { markedBlocks, rewriteBlocks } from '../packages/jatp/src/experiments/suite/docs-numbers.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const check = process.argv.includes('--check');
const docs = ['README.md', ...fs.readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => path.join('docs', f))];
let stale = 0;
for (const rel of docs) {
  const file = path.join(root, rel);
  const text = fs.readFileSync(file, 'utf8');
  if (markedBlocks(text).length === 0) continue;
  const next = rewriteBlocks(text, root);
  if (next === text) continue;
  stale++;
  if (check) process.stderr.write(`${rel}: generated numbers differ from the committed results\n`);
  else {
    const tmp = `${file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, next);
    fs.renameSync(tmp, file);
    process.stderr.write(`${rel}: rewritten\n`);
  }
}
if (check && stale > 0) process.exit(1);
