/**
 * Data-parallel training from the command line (`train-target`, `train-defense`):
 *
 *   --nproc N    this command re-runs itself as N local worker processes (ranks 0..N-1 on
 *                127.0.0.1, a free port, TFJS_TORCH_NUM_THREADS = cores / N each unless set), waits
 *                for them, and stops the others when one fails
 *   --sync-bn    batch-norm statistics over the global batch (default: per rank)
 *
 * Under an external launcher (torchrun, a job scheduler) every rank runs the plain command with
 * RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT set; `startDataParallelFromEnv` joins
 * the group when WORLD_SIZE > 1. See docs/distributed.md.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { enableDataParallel } from '../index.js';

export interface DistributedFlags {
  nproc?: string;
  syncBn?: boolean;
}

/** commander option specs, so each command adds them with one line each. */
export const NPROC_OPTION = ['--nproc <n>', 'train data-parallel on n local worker processes (one thread pool each; docs/distributed.md)'] as const;
export const SYNC_BN_OPTION = ['--sync-bn', 'data-parallel: batch-norm statistics over the global batch instead of per rank'] as const;

/** Flags that may accompany --resume (they do not change what a run is). */
export const DISTRIBUTED_FLAG_NAMES = ['nproc', 'syncBn'] as const;

function parseNproc(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--nproc: '${text}' is not a positive integer`);
  return n;
}


/** This command line without its --nproc flag (either spelling). */
export function argvWithoutNproc(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--nproc') {
      i++;
      continue;
    }
    if (argv[i]!.startsWith('--nproc=')) continue;
    out.push(argv[i]!);
  }
  return out;
}

/**
 * With --nproc N > 1 (and not already a rank): runs the N workers and resolves true once they are
 * done (process.exitCode set from them); otherwise resolves false and the caller trains itself.
 */
export async function launchLocalWorkers(flags: DistributedFlags): Promise<boolean> {
  if (flags.nproc === undefined) return false;
  const n = parseNproc(flags.nproc);
  if (process.env.WORLD_SIZE !== undefined && process.env.WORLD_SIZE !== '') {
    throw new Error(`--nproc ${n}: this process is already rank ${process.env.RANK ?? '?'} of WORLD_SIZE=${process.env.WORLD_SIZE} (drop --nproc under a launcher)`);
  }
  if (n === 1) return false;
  const { freeLocalPort } = (await import('tfjs-backend-torch')) as typeof import('tfjs-backend-torch');
  const port = await freeLocalPort();
  const threads = process.env.TFJS_TORCH_NUM_THREADS ?? String(Math.max(1, Math.floor(os.cpus().length / n)));
  const args = [...process.execArgv, ...argvWithoutNproc(process.argv.slice(1))];
  const children: ChildProcess[] = [];
  const exits = Array.from({ length: n }, (_, rank) => {
    const child = spawn(process.execPath, args, {
      env: {
        ...process.env,
        RANK: String(rank),
        WORLD_SIZE: String(n),
        LOCAL_RANK: String(rank),
        MASTER_ADDR: '127.0.0.1',
        MASTER_PORT: String(port),
        TFJS_TORCH_NUM_THREADS: threads,
        JATP_BACKEND: process.env.JATP_BACKEND ?? 'torch',
      },
      // Rank 0 prints the command's result; the others' stdout would repeat it.
      stdio: ['ignore', rank === 0 ? 'inherit' : 'ignore', 'inherit'],
      // Own process group: a terminal's Ctrl-C reaches the launcher only, which passes it on once.
      // A worker that got it twice (terminal + launcher) would quit without its checkpoint.
      detached: true,
    });
    children.push(child);
    return new Promise<number>((resolve) => {
      child.on('error', (err) => {
        process.stderr.write(`jatp: rank ${rank} could not start: ${err.message}\n`);
        resolve(1);
      });
      child.on('exit', (code, signal) => resolve(code ?? (signal === 'SIGINT' ? 130 : signal === 'SIGTERM' ? 143 : 1)));
    });
  });
  // Ctrl-C (from the terminal or `kill -INT` to this launcher) and SIGTERM are passed on to every
  // worker; they checkpoint and stop together, and the launcher waits for them, so no worker is left
  // behind. The workers are in their own process group (detached), so each gets the signal once.
  const forward = (signal: NodeJS.Signals) => (): void => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill(signal);
  };
  const onSigint = forward('SIGINT');
  const onSigterm = forward('SIGTERM');
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
  let failed = 0;
  try {
    await Promise.all(
      exits.map(async (p, rank) => {
        const code = await p;
        if (code !== 0 && failed === 0) {
          failed = code;
          // 130/143: stopped by a signal after a checkpoint (the loop's exit codes), not a failure.
          if (code !== 130 && code !== 143) process.stderr.write(`jatp: rank ${rank} of ${n} exited with status ${code}; stopping the other ranks\n`);
          for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
        }
      }),
    );
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
  }
  process.exitCode = failed;
  return true;
}

/**
 * Under a launcher (WORLD_SIZE > 1): joins the process group and makes the shared training loop
 * data-parallel. A no-op otherwise. Needs the 'torch' engine (initBackend first).
 */
export async function startDataParallelFromEnv(flags: DistributedFlags): Promise<void> {
  const world = Number(process.env.WORLD_SIZE ?? '1');
  if (!(world > 1)) {
    if (flags.syncBn) process.emitWarning('--sync-bn has no effect in a single-process run');
    return;
  }
  if (tf.getBackend() !== 'torch') {
    throw new Error(`data-parallel training (WORLD_SIZE=${world}) needs the 'torch' engine; the active backend is '${tf.getBackend()}'`);
  }
  const engine = (await import('tfjs-backend-torch')) as typeof import('tfjs-backend-torch');
  const group = engine.initProcessGroup();
  enableDataParallel(group, { syncBatchNorm: flags.syncBn === true });
}
