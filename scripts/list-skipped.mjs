#!/usr/bin/env node
// Prints every check a test run skipped, with its reason: the JSON lines that
// scripts/skipped-reporter.mjs (node:test) and the tfjs-core suite runner wrote into the folder
// given as argument. Exits 1 when CI=true and a skip gives no reason: an unexplained skip hides
// what was not tested. Usage: node scripts/list-skipped.mjs <folder>
import fs from 'node:fs';
import path from 'node:path';

const dir = process.argv[2];
if (!dir) {
  console.error('list-skipped: expected the folder of *.jsonl skip records as argument');
  process.exit(2);
}
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const records = [];
for (const f of fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => n.endsWith('.jsonl')).sort() : []) {
  for (const line of fs.readFileSync(path.join(dir, f), 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      records.push(JSON.parse(line));
    } catch {
      console.error(`list-skipped: ${f}: unreadable line ${JSON.stringify(line.slice(0, 80))}`);
    }
  }
}
const where = (r) => (r.file ? (path.isAbsolute(r.file) ? path.relative(root, r.file) : r.file) : '?');
const unexplained = records.filter((r) => typeof r.reason !== 'string');
console.log(`== skipped checks: ${records.length}${records.length ? '' : ' (none)'}`);
for (const r of records) {
  console.log(`  ${r.kind === 'todo' ? 'TODO' : 'SKIP'} ${where(r)} > ${r.name}: ${r.reason ?? 'NO REASON GIVEN'}`);
}
if (unexplained.length > 0) {
  console.log(`== ${unexplained.length} skipped check(s) give no reason (use t.skip('why') or { skip: 'why' })`);
  if (process.env.CI === 'true') process.exit(1);
}
