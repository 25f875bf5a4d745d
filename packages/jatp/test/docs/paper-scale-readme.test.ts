/** README.md's paper-scale section is what scripts/paper-scale-readme.ts generates from the committed measurements. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { README_BEGIN, README_END, committedMeasurements, paperScaleSection } from '../../src/experiments/suite/paper-scale-doc.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

test('README paper-scale section matches the newest docs/paper-scale/measurements-*.json', () => {
  const files = committedMeasurements(ROOT);
  assert.ok(files.length > 0, 'docs/paper-scale/ holds a measurements file');
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const a = readme.indexOf(README_BEGIN);
  const b = readme.indexOf(README_END);
  assert.ok(a >= 0 && b > a, 'README.md has the section markers');
  assert.equal(readme.slice(a, b + README_END.length), paperScaleSection(ROOT, files[files.length - 1]!), 'regenerate with: npx tsx scripts/paper-scale-readme.ts');
});
