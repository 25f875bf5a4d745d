/**
 * The shared real data (never committed): CI puts a `shared/` folder beside the repository's clone,
 * so it is found relative to the repository root, at `../shared/data`; JATP_SHARED_DATA overrides.
 * Each folder carries a `sha256sum -c` list (SHA256SUMS) that the tests check before reading.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliDecompressSync } from 'node:zlib';

/** The repository root: this file is packages/jatp/test/data/shared-data.ts. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
export const SHARED_DATA = process.env.JATP_SHARED_DATA ?? path.resolve(REPO_ROOT, '..', 'shared', 'data');

/** A folder of the shared data, and why tests that need it must skip (false when it is there). */
export function sharedFolder(name: string): { dir: string; skip: string | false } {
  const dir = path.join(SHARED_DATA, name);
  const skip = existsSync(dir) ? false
    : `${dir} absent: the shared data is expected at ../shared/data beside the repository (or set JATP_SHARED_DATA)`;
  return { dir, skip };
}

/**
 * Checks the files a `sha256sum` list names against it; `decode` turns a listed name into the bytes
 * to hash (for SHA256SUMS.decompressed: the .br file beside it, decompressed). Returns one line per
 * problem (missing list, missing file, mismatch); empty when every file matches.
 */
export function checkSha256Sums(dir: string, list = 'SHA256SUMS',
  decode: (name: string) => Buffer | undefined = (name) => readIfExists(path.join(dir, name))): string[] {
  const listFile = path.join(dir, list);
  if (!existsSync(listFile)) return [`${listFile} is missing (the copy is incomplete)`];
  const problems: string[] = [];
  const lines = readFileSync(listFile, 'utf8').split('\n').filter((l) => l.trim() !== '');
  if (lines.length === 0) problems.push(`${listFile} lists no files`);
  for (const line of lines) {
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line.trim());
    if (!m) { problems.push(`${listFile}: unreadable line ${JSON.stringify(line)}`); continue; }
    const bytes = decode(m[2]!);
    if (bytes === undefined) { problems.push(`${path.join(dir, m[2]!)} is missing (listed in ${list})`); continue; }
    const got = createHash('sha256').update(bytes).digest('hex');
    if (got !== m[1]) problems.push(`${path.join(dir, m[2]!)}: sha256 ${got}, ${list} says ${m[1]}`);
  }
  return problems;
}

function readIfExists(file: string): Buffer | undefined {
  return existsSync(file) ? readFileSync(file) : undefined;
}

/** For SHA256SUMS.decompressed: `name` itself, or `name.br` decompressed. */
export function decompressedFrom(dir: string): (name: string) => Buffer | undefined {
  return (name) => readIfExists(path.join(dir, name)) ?? mapDefined(readIfExists(path.join(dir, `${name}.br`)), brotliDecompressSync);
}

function mapDefined<T, U>(v: T | undefined, f: (v: T) => U): U | undefined {
  return v === undefined ? undefined : f(v);
}
