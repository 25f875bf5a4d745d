/**
 * Rewrites README.md's "what a paper-scale run needs" section from the newest measurements under
 * docs/paper-scale/ (written by `jatp experiment all --scale paper --dry-run`, copied there).
 * Usage: npx tsx scripts/paper-scale-readme.ts
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { committedMeasurements, paperScaleSection, withSection } from '../packages/jatp/src/experiments/suite/paper-scale-doc.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const files = committedMeasurements(root);
if (files.length === 0) throw new Error('docs/paper-scale/: no measurements-*.json; run the dry run and copy its measurements.json there');
const readme = path.join(root, 'README.md');
const text = withSection(fs.readFileSync(readme, 'utf8'), paperScaleSection(root, files[files.length - 1]!));
fs.writeFileSync(`${readme}.tmp`, text);
fs.renameSync(`${readme}.tmp`, readme);
process.stdout.write(`README.md: paper-scale section from ${files[files.length - 1]}\n`);
