/**
 * The pack test's staging (stage-package.ts) on a small fake package whose dist/ holds the outputs of
 * a removed source, as `tsc -b` leaves them: packing the folder itself ships the orphan (and
 * `orphanOutputs` names it), packing the staged copy does not, and the package folder is untouched.
 * Then the same two checks on this repository's real packages (dry runs: nothing is packed or built).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { orphanOutputs, packedFiles, stagePackage } from './stage-package.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');

function write(file: string, text: string): void {
  fs.mkdirSync(dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
}

test('a stale dist/gone.js is packed from the package folder, named by orphanOutputs, and left out of the staged copy', () => {
  const root = fs.mkdtempSync(join(tmpdir(), 'jatp-stage-'));
  try {
    const pkg = join(root, 'pkg');
    write(join(pkg, 'package.json'), JSON.stringify({ name: 'fake', version: '1.0.0', type: 'module', bin: { fake: 'bin/fake.js' }, files: ['bin', 'dist'] }));
    write(join(pkg, 'bin/fake.js'), 'import "../dist/index.js";\n');
    write(join(pkg, 'src/index.ts'), 'export const a = 1;\n');
    write(join(pkg, 'src/sub/b.ts'), 'export const b = 2;\n');
    for (const f of ['index.js', 'index.d.ts', 'index.js.map', 'sub/b.js', 'sub/b.d.ts', 'gone.js', 'gone.d.ts', 'sub/old.js']) write(join(pkg, 'dist', f), '//\n');

    const direct = packedFiles(pkg);
    assert.ok(direct.includes('dist/gone.js'), `npm pack of the folder ships the orphan: ${direct.join(', ')}`);
    assert.deepEqual(orphanOutputs(direct, join(pkg, 'src')).sort(), ['dist/gone.js', 'dist/sub/old.js']);

    const staged = stagePackage(pkg, join(root, 'staged'));
    const files = packedFiles(staged).sort();
    assert.deepEqual(files, ['bin/fake.js', 'dist/index.d.ts', 'dist/index.js', 'dist/index.js.map', 'dist/sub/b.d.ts', 'dist/sub/b.js', 'package.json']);
    assert.deepEqual(orphanOutputs(files, join(pkg, 'src')), []);
    assert.ok(fs.existsSync(join(pkg, 'dist/gone.js')), 'the package folder itself is not cleaned');

    fs.rmSync(join(pkg, 'dist/sub/b.js'));
    assert.throws(() => stagePackage(pkg, join(root, 'again')), /dist\/sub\/b\.js is missing; build first/);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('staged jatp and tfjs-backend-torch tarballs hold no compiled module without its source', { skip: !fs.existsSync(join(repo, 'packages/jatp/dist/index.js')) && 'packages/jatp/dist is not built' }, () => {
  const root = fs.mkdtempSync(join(tmpdir(), 'jatp-stage-real-'));
  try {
    for (const name of ['jatp', 'tfjs-backend-torch']) {
      const dir = join(repo, 'packages', name);
      const files = packedFiles(stagePackage(dir, join(root, name)));
      assert.ok(files.includes('dist/index.js') && files.includes('package.json'), `${name}: ${files.length} files`);
      assert.deepEqual(orphanOutputs(files, join(dir, 'src')), [], `${name}: compiled modules without a source`);
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
