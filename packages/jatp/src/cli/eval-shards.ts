/**
 * `jatp eval --nproc N`: runs shards 1..N of the same evaluation as N child processes of this very
 * command (`jatp eval ... --shard i/N --json <base>.shard-i-of-N.json`), splitting the CPU threads
 * between them. It lives in cli/ because it re-invokes the command line; the library's part of
 * sharding (which batches a shard owns, merging shard states bit for bit) is evaluation/eval-state.ts
 * and evaluation/evaluate.ts `mergeStates`.
 */
import * as os from 'node:os';
import { spawn, type ChildProcess } from 'node:child_process';

/** Command-line arguments that recreate `flags` (camelCase keys become --kebab-case flags). */
export function toArgv(flags: Readonly<Record<string, unknown>>): string[] {
  const argv: string[] = [];
  for (const [k, v] of Object.entries(flags)) {
    if (v === undefined || v === false) continue;
    const flag = `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    if (v === true) argv.push(flag);
    else argv.push(flag, String(v));
  }
  return argv;
}

/**
 * Runs `jatp eval <flags> --shard i/nproc --json <base>.shard-i-of-nproc.json` for i = 1..nproc in
 * parallel and returns the shard outputs; throws naming the shards that failed (rerunning the same
 * command resumes them from their states).
 */
export async function runShardProcesses(flags: Readonly<Record<string, unknown>>, nproc: number, base: string): Promise<string[]> {
  const shardFiles = Array.from({ length: nproc }, (_, i) => `${base}.shard-${i + 1}-of-${nproc}.json`);
  const threads = process.env.TFJS_TORCH_NUM_THREADS ?? String(Math.max(1, Math.floor(os.availableParallelism() / nproc)));
  process.stderr.write(`eval: ${nproc} shard processes, ${threads} thread(s) each; shard outputs ${shardFiles[0]} ...\n`);
  const script = process.argv[1]!;
  const children: ChildProcess[] = [];
  // Ctrl-C or a SIGTERM to this launcher alone is passed on to the shards, and the launcher waits for
  // them: no shard is left running behind a launcher that has exited. Each shard's state holds its
  // finished batches, so the same command resumes.
  let interrupted: NodeJS.Signals | undefined;
  const forward = (signal: NodeJS.Signals) => (): void => {
    interrupted ??= signal;
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill(signal);
  };
  const onSigint = forward('SIGINT');
  const onSigterm = forward('SIGTERM');
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
  let results: number[];
  try {
    results = await Promise.all(
      shardFiles.map(
        (file, i) =>
          new Promise<number>((resolve) => {
            const child = spawn(process.execPath, [...process.execArgv, script, 'eval', ...toArgv(flags), '--shard', `${i + 1}/${nproc}`, '--json', file], {
              stdio: ['ignore', 'ignore', 'inherit'],
              env: { ...process.env, TFJS_TORCH_NUM_THREADS: threads },
            });
            children.push(child);
            child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
            child.on('error', () => resolve(1));
          }),
      ),
    );
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
  }
  if (interrupted !== undefined) {
    process.exitCode = interrupted === 'SIGINT' ? 130 : 143;
    throw new ShardsInterrupted(interrupted);
  }
  const failed = results.flatMap((code, i) => (code === 0 ? [] : [`${i + 1}/${nproc} (exit ${code})`]));
  if (failed.length > 0) throw new Error(`--nproc: shard(s) ${failed.join(', ')} failed; run the same command again to resume them`);
  return shardFiles;
}

/** The launcher was stopped by a signal; every shard has exited and kept its state. */
export class ShardsInterrupted extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`--nproc: stopped by ${signal}; every shard has exited and kept its finished batches: run the same command again to resume`);
  }
}
