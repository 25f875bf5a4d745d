/**
 * The CLI is a thin client of the public API: every toolkit name a cli/ command uses comes
 * through `../index.js`. A deep import is allowed only for a name the public API does not export and
 * that is listed below as a CLI-only helper (flag-text parsers, atomic writers of output files, exit
 * codes, the readers' file layouts for `jatp data info`). A new deep import, or a deep import of
 * something index.ts exports, fails here with the file and the name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const src = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');
const cliDir = join(src, 'cli');

/** module (relative to src/) -> the names cli/ may import from it directly. */
const CLI_ONLY: Readonly<Record<string, readonly string[]>> = {
  'data/cifar10.js': ['CIFAR10_TRAIN_BATCHES', 'CIFAR10_TEST_BATCH'],
  'data/mnist.js': ['findIdxFile'],
  'data/svhn.js': ['SVHN_FILES'],
  'evaluation/eval-state.js': ['parseShard'],
  'evaluation/comparison.js': ['parseRowArgs'],
  'training/stop-signal.js': ['stoppedExitCode'],
};

function publicNames(): Set<string> {
  const entry = join(src, 'index.ts');
  const program = ts.createProgram([entry], { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022, strict: true, skipLibCheck: true, noEmit: true });
  const checker = program.getTypeChecker();
  return new Set(checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(entry)!)!).map((e) => e.getName()));
}

/** Every (file, module, name) a cli/ file imports from outside cli/, static imports and re-exports alike. */
function outsideImports(): { file: string; module: string; names: string[] }[] {
  const out: { file: string; module: string; names: string[] }[] = [];
  for (const file of fs.readdirSync(cliDir).filter((f) => f.endsWith('.ts'))) {
    const source = ts.createSourceFile(file, fs.readFileSync(join(cliDir, file), 'utf8'), ts.ScriptTarget.ES2022, true);
    const visit = (node: ts.Node): void => {
      let spec: ts.Expression | undefined;
      let names: string[] = [];
      if (ts.isImportDeclaration(node)) {
        spec = node.moduleSpecifier;
        const clause = node.importClause;
        if (clause?.name) names.push('default');
        const bindings = clause?.namedBindings;
        if (bindings && ts.isNamedImports(bindings)) names.push(...bindings.elements.map((e) => (e.propertyName ?? e.name).text));
        if (bindings && ts.isNamespaceImport(bindings)) names.push('*');
      } else if (ts.isExportDeclaration(node) && node.moduleSpecifier) {
        spec = node.moduleSpecifier;
        names = node.exportClause && ts.isNamedExports(node.exportClause) ? node.exportClause.elements.map((e) => (e.propertyName ?? e.name).text) : ['*'];
      } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0]) {
        spec = node.arguments[0];
        names = ['*'];
      }
      if (spec && ts.isStringLiteral(spec) && spec.text.startsWith('../')) out.push({ file, module: spec.text.slice(3), names });
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return out;
}

test('cli/ imports toolkit functionality through ../index.js; deep imports only for listed CLI-only helpers the API lacks', () => {
  const api = publicNames();
  const imports = outsideImports();
  assert.ok(imports.some((i) => i.module === 'index.js'), 'the CLI imports the public API');
  const problems: string[] = [];
  for (const { file, module, names } of imports) {
    if (module === 'index.js') continue;
    for (const name of names) {
      if (api.has(name)) problems.push(`cli/${file}: '${name}' from '../${module}' is in the public API; import it from '../index.js'`);
      else if (!(CLI_ONLY[module] ?? []).includes(name)) problems.push(`cli/${file}: '${name}' from '../${module}' is neither in the public API nor a listed CLI-only helper`);
    }
  }
  assert.deepEqual(problems, []);
  // The allow-list stays honest: nothing listed that the CLI no longer needs, nothing the API now exports.
  const used = new Set(imports.flatMap((i) => i.names.map((n) => `${i.module}:${n}`)));
  for (const [module, names] of Object.entries(CLI_ONLY)) {
    for (const name of names) {
      assert.ok(used.has(`${module}:${name}`), `CLI_ONLY lists '${name}' of ${module}, which cli/ no longer imports`);
      assert.ok(!api.has(name), `CLI_ONLY lists '${name}', which the public API exports`);
    }
  }
});
