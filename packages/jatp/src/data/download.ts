/**
 * `jatp data download`: fetches a dataset's official files into the cache folder.
 *  - verified: every file's MD5 is compared with the published one before it is used;
 *  - resumable: bytes go to `<file>.part`; a later run asks the server for the rest (HTTP Range)
 *    and appends, or starts over when the server ignores the range;
 *  - atomic: the verified `.part` is renamed to its final name, so a final name always holds a
 *    complete, verified file;
 *  - archives (CIFAR-10's tar.gz) are listed first and refused as a whole if any entry is not a
 *    plain file/folder or would land outside the target folder; extraction goes to a temporary
 *    folder that is then renamed into place.
 * Without network access it fails with one message that lists which files to put where.
 */
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { copyFileSync, readFileSync, createReadStream, createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, unlinkSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { isAbsolute, join, relative, resolve } from 'node:path';
import * as tar from 'tar';
import { SVHN_EXTRA, datasetCacheDir, getSpec, type RemoteFile } from './known-datasets.js';
import { canonicalName } from './load-dataset.js';

/** Options of `downloadDataset`: target folder (default: the dataset's cache folder), mirror, idle timeout, progress lines. */
export interface DownloadOptions {
  /** Target folder (default: the dataset's cache folder, see known-datasets.ts). */
  readonly dataDir?: string;
  /** Fetch every file from `<mirror>/<file name>` instead of the official URL (same checksums). */
  readonly mirror?: string;
  /** Abort a connection idle for this long, in ms (default 30,000); the .part file is kept. */
  readonly idleTimeoutMs?: number;
  /** Progress lines (to stderr in the CLI). */
  readonly onProgress?: (message: string) => void;
}

export const DOWNLOAD_DEFAULTS = { idleTimeoutMs: 30_000, maxRedirects: 5 } as const;

/** The server or network could not be reached at all. */
export class OfflineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OfflineError';
  }
}

/** A download failed after contact (HTTP error, checksum mismatch, interrupted transfer). */
export class DownloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DownloadError';
  }
}

/** A tar archive entry that is not a plain file/folder inside the target folder. */
export class UnsafeArchiveError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsafeArchiveError';
  }
}

const OFFLINE_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'ENETUNREACH', 'EHOSTUNREACH', 'ETIMEDOUT']);

export async function fileDigest(file: string, algorithm: 'md5' | 'sha256'): Promise<string> {
  const hash = createHash(algorithm);
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Whether the .gz `file` (saved as `dest`) decompresses to the bytes whose sha256 is `sha256`. */
function sameDecompressed(file: string, dest: string, sha256: string | undefined): boolean {
  if (sha256 === undefined || !dest.endsWith('.gz')) return false;
  try {
    return createHash('sha256').update(gunzipSync(readFileSync(file))).digest('hex') === sha256;
  } catch {
    return false; // not gzip at all
  }
}

interface FetchResult {
  readonly status: number;
  readonly response: http.IncomingMessage;
}

function request(url: string, headers: Record<string, string>, idleTimeoutMs: number): Promise<FetchResult> {
  return new Promise((resolvePromise, reject) => {
    const lib = url.startsWith('https:') ? https : http;
    const req = lib.get(url, { headers }, (response) => resolvePromise({ status: response.statusCode ?? 0, response }));
    req.setTimeout(idleTimeoutMs, () => req.destroy(Object.assign(new Error(`no data for ${idleTimeoutMs} ms`), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
  });
}

/** Streams `response` to `part` (appending or not); resolves with the bytes written, rejects if cut short. */
function save(response: http.IncomingMessage, part: string, append: boolean, expected: number | undefined, idleTimeoutMs: number): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const out = createWriteStream(part, { flags: append ? 'a' : 'w' });
    let written = 0;
    let failed = false;
    const fail = (err: Error): void => {
      if (failed) return;
      failed = true;
      response.destroy();
      out.end(() => reject(err));
    };
    response.socket?.setTimeout(idleTimeoutMs, () => fail(new Error(`no data for ${idleTimeoutMs} ms`)));
    response.on('data', (chunk: Buffer) => {
      written += chunk.length;
      if (!out.write(chunk)) {
        response.pause();
        out.once('drain', () => response.resume());
      }
    });
    response.on('aborted', () => fail(new Error('connection closed early')));
    response.on('error', (err) => fail(err));
    response.on('end', () => {
      if (failed) return;
      if (expected !== undefined && written !== expected) {
        fail(new Error(`connection closed after ${written} of ${expected} bytes`));
        return;
      }
      out.end(() => resolvePromise(written));
    });
    response.on('close', () => {
      if (!response.complete) fail(new Error(`connection closed after ${written}${expected !== undefined ? ` of ${expected}` : ''} bytes`));
    });
    out.on('error', (err) => fail(err));
  });
}

/**
 * Downloads one file to `dest` (resuming `dest.part`) and verifies its MD5; returns the digests.
 * Skips the transfer when `dest` already exists with the right checksum.
 */
export async function downloadFile(
  url: string,
  dest: string,
  md5: string | undefined,
  opts: Pick<DownloadOptions, 'idleTimeoutMs' | 'onProgress'> & { sha256Decompressed?: string } = {},
): Promise<{ md5: string; sha256: string; bytes: number; skipped: boolean }> {
  const idle = opts.idleTimeoutMs ?? DOWNLOAD_DEFAULTS.idleTimeoutMs;
  const log = opts.onProgress ?? (() => undefined);
  if (existsSync(dest)) {
    const have = await fileDigest(dest, 'md5');
    if (md5 === undefined || have === md5 || sameDecompressed(dest, dest, opts.sha256Decompressed)) {
      log(`${dest}: already present${md5 ? ', md5 verified' : ''}`);
      return { md5: have, sha256: await fileDigest(dest, 'sha256'), bytes: statSync(dest).size, skipped: true };
    }
    log(`${dest}: present but md5 ${have} != ${md5}; downloading again`);
  }
  const part = `${dest}.part`;
  // A mirror on this machine (a folder or a file:// URL, e.g. Debian's /usr/share/datasets/...): copied.
  const local = url.startsWith('file:') ? fileURLToPath(url) : isAbsolute(url) ? url : undefined;
  let target = url;
  for (let redirects = 0; local === undefined; redirects++) {
    const offset = existsSync(part) ? statSync(part).size : 0;
    let res: FetchResult;
    try {
      res = await request(target, offset > 0 ? { Range: `bytes=${offset}-` } : {}, idle);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (OFFLINE_CODES.has(code)) throw new OfflineError(`cannot reach ${new URL(target).host} (${code})`);
      throw new DownloadError(`${target}: ${(err as Error).message}; rerun to resume (${part} is kept)`);
    }
    const { status, response } = res;
    if (status >= 300 && status < 400 && response.headers.location) {
      response.resume();
      if (redirects >= DOWNLOAD_DEFAULTS.maxRedirects) throw new DownloadError(`${url}: more than ${DOWNLOAD_DEFAULTS.maxRedirects} redirects`);
      target = new URL(response.headers.location, target).toString();
      continue;
    }
    if (status === 416 && offset > 0) {
      // The .part already holds everything the server has: verify it below.
      response.resume();
    } else if (status === 200 || status === 206) {
      const append = status === 206;
      if (append) {
        const range = /bytes (\d+)-/.exec(String(response.headers['content-range'] ?? ''));
        if (!range || Number(range[1]) !== offset) {
          response.destroy();
          unlinkSync(part);
          throw new DownloadError(`${target}: server answered a resume at byte ${offset} with range "${response.headers['content-range']}"; the partial file was removed, rerun`);
        }
      }
      const length = response.headers['content-length'] !== undefined ? Number(response.headers['content-length']) : undefined;
      log(`${dest}: ${append ? `resuming at byte ${offset}` : 'downloading'} from ${target}${length !== undefined ? ` (${length} bytes)` : ''}`);
      try {
        await save(response, part, append, length, idle);
      } catch (err) {
        throw new DownloadError(`${target}: ${(err as Error).message}; rerun the same command to resume (${part} is kept)`);
      }
    } else {
      response.resume();
      throw new DownloadError(`${target}: HTTP ${status}${response.statusMessage ? ` ${response.statusMessage}` : ''}`);
    }
    break;
  }
  if (local !== undefined) {
    if (!existsSync(local)) throw new DownloadError(`${local}: not in the --mirror folder`);
    log(`${dest}: copying ${local}`);
    copyFileSync(local, part);
  }
  const have = await fileDigest(part, 'md5');
  // A recompressed copy (Debian's .gz files) has another md5 but the same decompressed bytes.
  const sameContent = md5 !== undefined && have !== md5 && sameDecompressed(part, dest, opts.sha256Decompressed);
  if (sameContent) log(`${dest}: md5 ${have} differs from the published ${md5}, but the decompressed bytes match the published sha256 (a recompressed copy)`);
  if (md5 !== undefined && have !== md5 && !sameContent) {
    unlinkSync(part);
    throw new DownloadError(`${url}: checksum mismatch (md5 ${have}, expected ${md5}); the corrupt download was removed, rerun to fetch it again`);
  }
  renameSync(part, dest);
  log(`${dest}: md5 ${md5 ? 'verified' : `${have} (no published checksum to compare)`}`);
  return { md5: have, sha256: await fileDigest(dest, 'sha256'), bytes: statSync(dest).size, skipped: false };
}

/**
 * Lists a tar(.gz) archive and throws UnsafeArchiveError if any entry is not a regular file or
 * folder, or its path is absolute or leaves `target`.
 */
export async function checkArchive(archive: string, target: string): Promise<string[]> {
  const root = resolve(target);
  const problems: string[] = [];
  const names: string[] = [];
  const listing = tar.t({
    file: archive,
    strict: true,
    onReadEntry: (entry) => {
      const p = entry.path;
      names.push(p);
      const dest = resolve(root, p);
      const rel = relative(root, dest);
      if (isAbsolute(p) || p.split(/[\\/]/).includes('..') || rel.startsWith('..') || isAbsolute(rel)) problems.push(`${p} (escapes the target folder)`);
      else if (entry.type !== 'File' && entry.type !== 'OldFile' && entry.type !== 'Directory') problems.push(`${p} (${entry.type}; only files and folders are allowed)`);
      entry.resume();
    },
  });
  try {
    await listing;
  } catch (err) {
    throw new DownloadError(`${archive}: not a readable tar archive (${(err as Error).message})`);
  }
  if (problems.length > 0) throw new UnsafeArchiveError(`${archive}: refused to extract: ${problems.join(', ')}`);
  return names;
}

/** Extracts a checked archive into `target` via a temporary folder renamed into place. */
export async function extractArchive(archive: string, target: string): Promise<string[]> {
  await checkArchive(archive, target);
  mkdirSync(target, { recursive: true });
  const tmp = mkdtempSync(join(target, '.extract-'));
  try {
    await tar.x({ file: archive, cwd: tmp, strict: true, filter: (_p, e) => 'type' in e && (e.type === 'File' || e.type === 'OldFile' || e.type === 'Directory') });
    const tops = readdirSync(tmp);
    for (const top of tops) {
      const dest = join(target, top);
      rmSync(dest, { recursive: true, force: true });
      renameSync(join(tmp, top), dest);
    }
    return tops;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** One file `downloadDataset` fetched: where it lies, where it came from, its verified md5. */
export interface DownloadedFile {
  readonly file: string;
  readonly url: string;
  readonly md5: string;
  readonly sha256: string;
  readonly bytes: number;
  readonly verified: boolean;
  readonly skipped: boolean;
}

/** What to put where, for the offline message. */
export function manualInstructions(files: readonly RemoteFile[], dir: string): string {
  return files.map((f) => `  ${join(dir, f.file)}  <- ${f.url}${f.md5 ? ` (md5 ${f.md5})` : ''}`).join('\n');
}

/** Downloads (and extracts) `files` into `dir`. */
export async function downloadFiles(files: readonly RemoteFile[], dir: string, opts: DownloadOptions = {}): Promise<DownloadedFile[]> {
  mkdirSync(dir, { recursive: true });
  const done: DownloadedFile[] = [];
  for (const f of files) {
    const url = opts.mirror ? `${opts.mirror.replace(/\/+$/, '')}/${f.file}` : f.url;
    const dest = join(dir, f.file);
    let result;
    try {
      result = await downloadFile(url, dest, f.md5, { ...opts, ...(f.sha256Decompressed !== undefined ? { sha256Decompressed: f.sha256Decompressed } : {}) });
    } catch (err) {
      if (err instanceof OfflineError) {
        throw new OfflineError(`${err.message}: no network? Download these files elsewhere and put them here:\n${manualInstructions(files, dir)}`);
      }
      throw err;
    }
    if (f.extract) {
      opts.onProgress?.(`${dest}: extracting into ${dir}`);
      await extractArchive(dest, dir);
    }
    done.push({ file: dest, url, ...result, verified: f.md5 !== undefined });
  }
  return done;
}

/** `jatp data download <name>`: the dataset's official files into the cache (or `dataDir`). */
export async function downloadDataset(name: string, opts: DownloadOptions & { extra?: boolean } = {}): Promise<{ dir: string; files: DownloadedFile[] }> {
  const canonical = canonicalName(name);
  if (canonical.startsWith('folder:')) throw new Error(`${name}: image folders are local; there is nothing to download`);
  const spec = getSpec(canonical);
  const dir = opts.dataDir ?? datasetCacheDir(canonical);
  const files = [...spec.files];
  if (canonical === 'svhn' && opts.extra) files.push(SVHN_EXTRA);
  return { dir, files: await downloadFiles(files, dir, opts) };
}
