/**
 * What the pack test packs: a workspace package copied into a staging folder with a dist/ that holds
 * only the outputs of the current src/ files. `tsc -b` never deletes the outputs of a removed source
 * (dist/training/losses.js outlived src/training/losses.ts), so packing the package folder itself
 * could ship modules that no longer exist in the sources. The shared dist/ is only read, never
 * cleaned: other tests use it at the same time.
 */
import * as fs from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

/** What tsc writes for one source X.ts (tsconfig.base.json: declaration and source maps on). */
const OUTPUT_SUFFIXES = ['.js', '.js.map', '.d.ts', '.d.ts.map'] as const;

/** Source files under `dir` (X.ts, not declaration files), as paths relative to `dir` without `.ts`. */
function sourceStems(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => relative(dir, join(e.parentPath, e.name)).replace(/\.ts$/, ''));
}

/**
 * Copies `pkgDir` into `dest` as npm pack sees it: package.json, README.md and every `files` entry,
 * with `dist` rebuilt from the current sources' outputs only. Throws naming the file when a source
 * has no compiled .js (dist/ not built). Returns `dest`.
 */
export function stagePackage(pkgDir: string, dest: string): string {
  const manifest = JSON.parse(fs.readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { files?: string[] };
  fs.mkdirSync(dest, { recursive: true });
  fs.copyFileSync(join(pkgDir, 'package.json'), join(dest, 'package.json'));
  const entries = new Set([...(manifest.files ?? []), 'README.md']);
  for (const entry of entries) {
    if (entry !== 'dist' && fs.existsSync(join(pkgDir, entry))) fs.cpSync(join(pkgDir, entry), join(dest, entry), { recursive: true });
  }
  if (entries.has('dist')) {
    for (const stem of sourceStems(join(pkgDir, 'src'))) {
      if (!fs.existsSync(join(pkgDir, 'dist', `${stem}.js`))) throw new Error(`stagePackage: ${join(pkgDir, 'dist', `${stem}.js`)} is missing; build first (npx tsc -b packages/tfjs-backend-torch packages/jatp)`);
      for (const suffix of OUTPUT_SUFFIXES) {
        const file = join(pkgDir, 'dist', `${stem}${suffix}`);
        if (!fs.existsSync(file)) continue;
        fs.mkdirSync(dirname(join(dest, 'dist', stem)), { recursive: true });
        fs.copyFileSync(file, join(dest, 'dist', `${stem}${suffix}`));
      }
    }
  }
  return dest;
}

/** The files `npm pack` puts in the tarball of `pkgDir` (paths inside the package), without packing. */
export function packedFiles(pkgDir: string): string[] {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: pkgDir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`npm pack --dry-run in ${pkgDir} failed (${r.status}): ${r.stderr}`);
  const [report] = JSON.parse(r.stdout) as { files: { path: string }[] }[];
  return report!.files.map((f) => f.path);
}

/** Compiled modules in a tarball listing that no source in `srcDir` produces (dist/X.js without src/X.ts). */
export function orphanOutputs(files: readonly string[], srcDir: string): string[] {
  const stems = new Set(sourceStems(srcDir));
  return files.filter((f) => f.startsWith('dist/') && f.endsWith('.js') && !stems.has(f.slice('dist/'.length, -'.js'.length)));
}
