/**
 * Where a number came from: the commit of the code, the engine's build (libtorch version, device,
 * Winograd, Gloo), the CPU and the date. Benchmarks and experiment results write this next to
 * their figures, so a result can be traced to the code and the machine that produced it. Loads
 * the addon if nothing has yet (it registers no backend), and never throws: what cannot be found
 * out is 'unknown' or absent.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { loadNative } from './native.js';

/** The engine this process runs on (or why there is none). */
export interface EngineBuild {
  available: boolean;
  /** Why the addon did not load (when `available` is false). */
  reason?: string;
  libtorch?: string;
  device?: string;
  /** oneDNN's Winograd path: compiled in, usable on this CPU, switched on. */
  winograd?: { built: boolean; supported: boolean; enabled: boolean };
  /** c10d process groups compiled in (Gloo on CPU, NCCL on CUDA builds). */
  gloo: boolean;
  distributedBackends: string[];
  /** Engine switches set in the environment when the addon loaded (TFJS_TORCH_*, OMP_*, GOMP_*, KMP_); {} for none. */
  settings: Record<string, string>;
}

export interface Provenance {
  /** `git rev-parse HEAD` of the checkout holding this code; 'unknown' outside a git checkout. */
  commit: string;
  /** Whether tracked files differed from that commit (absent when unknown). */
  dirty?: boolean;
  /** ISO 8601, UTC. */
  date: string;
  cpuModel: string;
  cpus: number;
  platform: string;
  node: string;
  engine: EngineBuild;
}

export function engineBuild(): EngineBuild {
  const load = loadNative();
  const b = load.binding;
  if (b === undefined) return { available: false, reason: load.reason ?? 'unknown', gloo: false, distributedBackends: [], settings: { ...load.settings } };
  const dist = (b as unknown as { distStatus?: () => { available: boolean; backends: string[] } }).distStatus?.();
  const backends = dist?.available ? [...dist.backends] : [];
  const w = b.winogradStatus();
  return {
    available: true,
    libtorch: b.torchVersion(),
    device: b.device(),
    winograd: { built: w.built, supported: w.supported, enabled: w.enabled },
    gloo: backends.includes('gloo'),
    distributedBackends: backends,
    settings: { ...load.settings },
  };
}

/** The CPU model as /proc/cpuinfo names it (os.cpus()'s name elsewhere). */
export function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1]!.trim();
  } catch { /* not Linux */ }
  return os.cpus()[0]?.model ?? 'unknown';
}

/**
 * The commit of the checkout that holds `codeDir` (default: this package's folder). A package
 * installed under node_modules belongs to no checkout of its own: 'unknown' there, rather than the
 * commit of whatever project installed it.
 */
export function gitCommit(codeDir = path.dirname(fileURLToPath(import.meta.url))): { commit: string; dirty?: boolean } {
  if (codeDir.split(path.sep).includes('node_modules')) return { commit: 'unknown' };
  const git = (...args: string[]): string =>
    execFileSync('git', ['-C', codeDir, ...args], { stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).toString().trim();
  try {
    const commit = git('rev-parse', 'HEAD');
    if (!/^[0-9a-f]{40}$/.test(commit)) return { commit: 'unknown' };
    try {
      return { commit, dirty: git('status', '--porcelain', '--untracked-files=no') !== '' };
    } catch {
      return { commit };
    }
  } catch {
    return { commit: 'unknown' };
  }
}

export function provenance(opts: { codeDir?: string } = {}): Provenance {
  return {
    ...gitCommit(opts.codeDir),
    date: new Date().toISOString(),
    cpuModel: cpuModel(),
    cpus: os.cpus().length,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    engine: engineBuild(),
  };
}
