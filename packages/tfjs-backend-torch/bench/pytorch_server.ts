/**
 * The PyTorch side of an interleaved comparison: bench/torch_bench.py --serve kept running, asked
 * for one measurement at a time (one workload name per line, one {"seconds"} answer per line).
 * Dev-only: needs a python3 that can import torch (Debian python3-torch).
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';

export class PytorchServer {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly lines: AsyncIterator<string>;
  private stderr = '';

  /** Why PyTorch cannot be used with `python`, or undefined when it can. */
  static unavailable(python: string): string | undefined {
    const probe = spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' });
    return probe.status === 0 ? undefined : `${python} cannot import torch (apt-get install python3-torch)`;
  }

  constructor(python: string, script: string, args: string[], env: NodeJS.ProcessEnv) {
    this.child = spawn(python, [path.resolve(script), '--serve', ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr.on('data', (d: Buffer) => { this.stderr = (this.stderr + d.toString()).slice(-2000); });
    this.lines = readline.createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
  }

  /** Seconds of one run of `workload` (e.g. train_step_b32). */
  async measure(workload: string): Promise<number> {
    this.child.stdin.write(`${workload}\n`);
    const next = await this.lines.next();
    if (next.done) throw new Error(`PyTorch server exited: ${this.stderr}`);
    const r = JSON.parse(next.value) as { seconds?: number; error?: string };
    if (r.seconds === undefined) throw new Error(`PyTorch server: ${r.error ?? next.value}`);
    return r.seconds;
  }

  close(): void {
    this.child.stdin.end();
  }
}
