/**
 * The public API (src/index.ts): every export carries TSDoc (checked with the TypeScript compiler's
 * own view of the docs, so a missing comment fails here), the one-interface attacks are all there,
 * and importing the package entry does not start the CLI.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const src = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

test('every export of src/index.ts has TSDoc', () => {
  const entry = join(src, 'index.ts');
  const program = ts.createProgram([entry], {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    skipLibCheck: true,
    noEmit: true,
  });
  const checker = program.getTypeChecker();
  const module = checker.getSymbolAtLocation(program.getSourceFile(entry)!)!;
  const exports = checker.getExportsOfModule(module);
  const undocumented = exports
    .filter((e) => {
      const symbol = e.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(e) : e;
      return ts.displayPartsToString(symbol.getDocumentationComment(checker)).trim() === '';
    })
    .map((e) => e.getName());
  assert.ok(exports.length > 200, `only ${exports.length} exports found`);
  assert.deepEqual(undocumented, []);
  const names = new Set(exports.map((e) => e.getName()));
  for (const name of ['pgd', 'apgdCe', 'apgdT', 'autoAttack', 'fabT', 'square', 'fwa', 'tiBim', 'featureAttack', 'eotModel', 'asLogitsFn', 'fullModel', 'jatpWeights', 'runTraining', 'trainDefense', 'loadDataset', 'BatchIterator', 'buildNetwork', 'saveNetwork', 'loadNetwork', 'boostedCrossEntropy', 'detach']) {
    assert.ok(names.has(name), `'${name}' is exported`);
  }
});

test("importing the package entry runs no CLI, even with CLI flags in argv", () => {
  const dist = resolve(src, '../dist/index.js');
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(dist)}); console.log('imported', typeof m.apgdCe, process.argv.includes('--help'));`, '--', '--help'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^imported function true$/m);
  assert.doesNotMatch(r.stdout, /Usage: jatp/);
});

test('the package is imported by its named subpaths only: jatp/<room> resolves, jatp/dist/... is refused', () => {
  const pkg = JSON.parse(readFileSync(resolve(src, '../package.json'), 'utf8')) as { exports: Record<string, unknown> };
  const subpaths = Object.keys(pkg.exports).filter((k) => k !== '.' && k !== './package.json').map((k) => `jatp/${k.slice(2)}`);
  assert.ok(subpaths.includes('jatp/attacks') && subpaths.includes('jatp/models') && subpaths.includes('jatp/evaluation'), subpaths.join(', '));
  // From the repository root, `jatp` resolves through node_modules like any consumer's import.
  const script = `
    const out = {};
    for (const s of ${JSON.stringify(['jatp', ...subpaths])}) out[s] = Object.keys(await import(s)).length;
    for (const s of ['jatp/dist/attacks/pgd.js', 'jatp/dist/index.js', 'jatp/src/index.ts']) {
      try { await import(s); out[s] = 'imported'; } catch (err) { out[s] = err.code; }
    }
    console.log(JSON.stringify(out));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', cwd: resolve(src, '../../..') });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Record<string, number | string>;
  for (const s of ['jatp', ...subpaths]) assert.ok(typeof out[s] === 'number' && out[s] > 0, `${s} exports nothing (${out[s]})`);
  for (const s of ['jatp/dist/attacks/pgd.js', 'jatp/dist/index.js', 'jatp/src/index.ts']) assert.equal(out[s], 'ERR_PACKAGE_PATH_NOT_EXPORTED', s);
});
