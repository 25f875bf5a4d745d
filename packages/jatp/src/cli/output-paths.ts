/**
 * Output folders checked before any work: a command that would train for hours, or compute every
 * oblivious example, and then fail to write its result must fail in the first second instead,
 * naming the flag and the path. access(W_OK) also reports a read-only file system (EROFS) to root.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The nearest existing ancestor of `p` (itself when it exists). */
function existingAncestor(p: string): string {
  let dir = p;
  while (!fs.existsSync(dir)) {
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return dir;
}

/** Throws unless `dir` is a folder that can be written, or can be created under a writable folder. */
export function checkOutputDir(dir: string, flag: string): void {
  const resolved = path.resolve(dir);
  const found = existingAncestor(resolved);
  if (!fs.statSync(found).isDirectory()) {
    throw new Error(found === resolved ? `${flag}: '${dir}' is a file; expected a folder to write into` : `${flag}: cannot create '${dir}': '${found}' is a file, not a folder`);
  }
  try {
    fs.accessSync(found, fs.constants.W_OK);
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'EROFS' ? 'is on a read-only file system' : 'is not writable';
    throw new Error(found === resolved ? `${flag}: folder '${dir}' ${why}` : `${flag}: cannot create '${dir}': folder '${found}' ${why}`);
  }
}

/**
 * Refuses an output path that cannot be written (a directory, a parent that is a file or read-only)
 * before any work is done.
 */
export function checkOutputPath(file: string, flag: string): void {
  const resolved = path.resolve(file);
  if (fs.existsSync(resolved)) {
    const stat = fs.statSync(resolved);
    if (stat.isDirectory()) throw new Error(`${flag}: '${file}' is a directory; expected the path of a file to write`);
    try {
      fs.accessSync(resolved, fs.constants.W_OK);
    } catch {
      throw new Error(`${flag}: '${file}' exists and is not writable`);
    }
  }
  let dir = path.dirname(resolved);
  while (!fs.existsSync(dir)) dir = path.dirname(dir);
  if (!fs.statSync(dir).isDirectory()) throw new Error(`${flag}: cannot create '${file}': '${dir}' is a file, not a folder`);
  try {
    fs.accessSync(dir, fs.constants.W_OK);
  } catch {
    throw new Error(`${flag}: cannot create '${file}': folder '${dir}' is not writable`);
  }
}
