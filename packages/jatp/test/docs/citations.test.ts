/**
 * Every "spec §…", "guide §…" and "spec A…" cited in the repository resolves to a heading of
 * docs/paper-notes.md or docs/engine-notes.md, and every file and name that docs/design.md's
 * tables point at exists. Reads files only (well under a second).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { citingFiles, findCitations, headingIds, unresolved, NOTES, type Citation, type NoteDoc } from './citations.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

function readHeadings(): Record<NoteDoc, Set<string>> {
  return {
    spec: headingIds(fs.readFileSync(path.join(ROOT, NOTES.spec), 'utf8')),
    guide: headingIds(fs.readFileSync(path.join(ROOT, NOTES.guide), 'utf8')),
  };
}

test('the checker reads every citation form the code uses, and reports a missing heading with file:line', () => {
  const text = [
    '// Guide §1.2 and §1.6 give the contract (guide §7d).',
    ' * losses (spec §5.1–5.3), Proj_eps (spec §1), DLR invariants (Spec §5c).',
    ' * ResNet-18 layer3, spec §2.3 A), steps 10 (A2); (spec §2.2, A4); presets.ts, A13/A14',
    ' * MMA-lite, spec §3.3(a) (ambiguity A10); trailing dot: spec §4.2.',
    ' * | hgd | pre-processor | §4.2 |   beta = 6 (paper §4.1)   matrix A1 x',
    ' * not a citation: spec.eps, AttackSpec, A100, PA1, §; but spec §A17 and spec §2.4-2.6 are',
  ].join('\n');
  const { citations } = findCitations('packages/jatp/src/x.ts', text);
  const ids = (c: readonly Citation[]) => c.map((x) => `${x.line}:${x.doc}:${x.id}`);
  assert.deepEqual(ids(citations), [
    '1:guide:1.2', '1:guide:1.6', '1:guide:7d',
    '2:spec:5.1', '2:spec:5.3', '2:spec:1', '2:spec:5c',
    '3:spec:2.3', '3:spec:A2', '3:spec:2.2', '3:spec:A4', '3:spec:A13', '3:spec:A14',
    '4:spec:3.3', '4:spec:A10', '4:spec:4.2',
    '5:spec:4.2',
    '6:spec:A17', '6:spec:2.4', '6:spec:2.6',
  ]);
  // A bare § in the engine package cites the guide.
  assert.deepEqual(ids(findCitations('packages/tfjs-backend-torch/native/x.cc', '// traps (§4.2)').citations), ['1:guide:4.2']);

  const headings = { spec: headingIds('## §5.3 AutoAttack\n### 5c. Invariants\n### A19 Fooling rate\n## §5 Attacks'), guide: headingIds('#### 1.6.3 Identity aliases') };
  assert.deepEqual([...headings.spec].sort(), ['5', '5.3', '5c', 'A19']);
  const bad = findCitations('packages/jatp/src/bad.ts', 'ok spec §5.3. and §5c\n * wrong: spec §5.30, spec §9, spec A2, guide §1.6.3 ok, guide §1.6').citations;
  assert.deepEqual(unresolved(bad, headings), [
    "packages/jatp/src/bad.ts:2: '§5.30' -> docs/paper-notes.md has no heading §5.30",
    "packages/jatp/src/bad.ts:2: '§9' -> docs/paper-notes.md has no heading §9",
    "packages/jatp/src/bad.ts:2: 'A2' -> docs/paper-notes.md has no heading A2",
    "packages/jatp/src/bad.ts:2: '§1.6' -> docs/engine-notes.md has no heading §1.6",
  ]);
  // "spec 4.4" (no § sign) is reported as malformed.
  assert.equal(findCitations('a.ts', "'full' (PGD-40 through P, spec 4.4)").malformed.length, 1);
});

test('every spec / guide citation in source, native, test, bench, scripts and docs resolves to a heading in docs/', () => {
  const headings = readHeadings();
  const files = citingFiles(ROOT);
  assert.ok(files.some((f) => f.startsWith('packages/jatp/src/')) && files.some((f) => f.startsWith('packages/tfjs-backend-torch/native/')), 'scanned no source files');
  const all: Citation[] = [];
  const malformed: string[] = [];
  for (const file of files) {
    const found = findCitations(file, fs.readFileSync(path.join(ROOT, file), 'utf8'));
    all.push(...found.citations);
    malformed.push(...found.malformed.map((c) => `${c.file}:${c.line}: '${c.text}' -> write it with a § sign: '${c.doc} §${c.id}'`));
  }
  assert.ok(all.length > 200, `expected the code's ~240 citations, found ${all.length}`);
  const problems = [...malformed, ...unresolved(all, headings)];
  assert.deepEqual(problems, [], `citations without a heading in docs/ (add the heading or fix the number):\n${problems.join('\n')}`);
});

test("docs/design.md's code map names files that exist and identifiers those files define", () => {
  const design = fs.readFileSync(path.join(ROOT, 'docs/design.md'), 'utf8');
  const problems: string[] = [];
  let rows = 0;
  design.split('\n').forEach((line, i) => {
    // Table rows of the form  | what | `packages/.../file.ts` | `name`, `name` | ...
    if (!line.startsWith('|')) return;
    const cells = line.split('|').map((c) => c.trim());
    const fileCell = cells.find((c) => /^`packages\/[^`]+`$/.test(c));
    if (fileCell === undefined) return;
    rows++;
    const file = fileCell.slice(1, -1);
    const full = path.join(ROOT, file);
    if (!fs.existsSync(full)) {
      problems.push(`docs/design.md:${i + 1}: ${file} does not exist`);
      return;
    }
    const source = fs.readFileSync(full, 'utf8');
    const nameCell = cells[cells.indexOf(fileCell) + 1] ?? '';
    for (const [, name] of nameCell.matchAll(/`([A-Za-z_$][\w$]*)(?:\.[\w$]+)?(?:\(\))?`/g)) {
      if (!new RegExp(String.raw`\b${name!.replace(/\$/g, '\\$')}\b`).test(source)) problems.push(`docs/design.md:${i + 1}: ${file} does not define '${name}'`);
    }
  });
  assert.ok(rows > 20, `expected the code map's rows, found ${rows}`);
  assert.deepEqual(problems, [], problems.join('\n'));
});
