/**
 * Data-parallel throughput (`npm run bench:distributed`): natural training of the toolkit's
 * ResNet-18 (32x32x3, synthetic data, SGD momentum) through the shared loop, as 1 worker vs 2 local
 * workers (Gloo on 127.0.0.1), each worker with ONE ATen thread, at the same global batch size.
 * The two sides are interleaved (A B A B ...); reported: images/s of each, the median speed-up with
 * its min-max, and per step the time rank 0 spent blocked in collectives and the bytes it moved.
 * A third, interleaved side is the machine's ceiling: 2 independent single-process workers on half
 * the batch each, run at once, with no communication at all. On a shared machine whose other
 * users keep the cores busy, two processes get less than twice the CPU of one; the ceiling shows
 * how much less, so the data-parallel figure can be read against it.
 *
 * Flags: --width N (64: the paper ResNet-18; smaller for a quick look), --batch N (global, 32),
 * --steps N (6, of which --warmup N (2) are not timed), --trials N (3), --json.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { fileURLToPath } from 'node:url';
import { freeLocalPort, provenance } from 'tfjs-backend-torch';
import { positiveIntFlag } from './flags.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number): number => positiveIntFlag(args, name, fallback);
const width = flag('--width', 64);
const batch = flag('--batch', 32);
const steps = flag('--steps', 6);
const warmup = flag('--warmup', 2);
const trials = flag('--trials', 3);
if (steps <= warmup) throw new Error(`--steps ${steps} must exceed --warmup ${warmup}`);
const log = (m: string): void => void process.stderr.write(`${m}\n`);
const worker = fileURLToPath(new URL('./distributed-worker.ts', import.meta.url));

interface WorkerResult { rank: number; secondsPerStep: number; commSecondsPerStep: number; payloadBytesPerStep: number; params: number; threads: number }


async function runWorld(world: number, independent = false): Promise<WorkerResult[]> {
  const port = await freeLocalPort();
  return Promise.all(
    Array.from({ length: world }, (_, rank) =>
      new Promise<WorkerResult>((resolve, reject) => {
        const env: NodeJS.ProcessEnv = { ...process.env, TFJS_TORCH_NUM_THREADS: '1', OMP_NUM_THREADS: '1' };
        if (world > 1 && !independent) Object.assign(env, { RANK: String(rank), WORLD_SIZE: String(world), LOCAL_RANK: String(rank), MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port) });
        const p = spawn(process.execPath, ['--import', 'tsx', worker, String(width), String(independent ? batch / world : batch), String(steps), String(warmup)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        p.stdout.on('data', (d: Buffer) => (out += d.toString()));
        p.stderr.on('data', (d: Buffer) => (err += d.toString()));
        p.on('close', (code) => {
          const line = out.trim().split('\n').filter((l) => l.startsWith('{')).pop();
          if (code !== 0 || line === undefined) reject(new Error(`worker ${rank}/${world} exited ${code}: ${err}`));
          else resolve(JSON.parse(line) as WorkerResult);
        });
      }),
    ),
  );
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const cpu = /model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown CPU';
log(`bench:distributed  ${new Date().toISOString()}  ${cpu}, ${os.cpus().length} logical cores, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
log(`ResNet-18 width ${width}, global batch ${batch}, ${steps - warmup} timed steps after ${warmup} warm-up, ${trials} interleaved trials, 1 ATen thread per worker`);
const rows: Array<{ trial: number; one: number; two: number; speedup: number; ceiling: number; commSecondsPerStep: number; payloadBytesPerStep: number }> = [];
if (batch % 2 !== 0) throw new Error(`--batch ${batch}: must be even (split over 2 workers)`);
let params = 0;
for (let t = 1; t <= trials; t++) {
  const [a] = await runWorld(1);
  const b = await runWorld(2);
  const c = await runWorld(2, true);
  const ceiling = batch / Math.max(...c.map((r) => r.secondsPerStep)) / (batch / a!.secondsPerStep);
  params = a!.params;
  const one = batch / a!.secondsPerStep;
  const slowest = Math.max(...b.map((r) => r.secondsPerStep));
  const two = batch / slowest;
  const r0 = b.find((r) => r.rank === 0)!;
  if (!(r0.payloadBytesPerStep > 0)) throw new Error('the 2-worker run moved no gradients: it did not run data-parallel (is training/loop.ts missing its [distributed] hooks?)');
  rows.push({ trial: t, one, two, speedup: two / one, ceiling, commSecondsPerStep: r0.commSecondsPerStep, payloadBytesPerStep: r0.payloadBytesPerStep });
  log(`trial ${t}: 1 worker ${one.toFixed(2)} img/s | 2 workers ${two.toFixed(2)} img/s | x${(two / one).toFixed(2)} (ceiling now: 2 independent workers x${ceiling.toFixed(2)}) | rank 0 blocked in collectives ${(r0.commSecondsPerStep * 1000).toFixed(0)} ms/step (of ${(slowest * 1000).toFixed(0)}), ${(r0.payloadBytesPerStep / 2 ** 20).toFixed(1)} MiB/step handed to all-reduce (ring: ~${(r0.payloadBytesPerStep / 2 ** 20).toFixed(1)} MiB sent per rank at n=2)`);
}
const sp = rows.map((r) => r.speedup);
const summary = {
  provenance: provenance(),
  date: new Date().toISOString(),
  cpu,
  cores: os.cpus().length,
  model: `resnet18 width ${width} (${params.toLocaleString('en')} params)`,
  globalBatch: batch,
  speedupMedian: median(sp),
  speedupMin: Math.min(...sp),
  speedupMax: Math.max(...sp),
  ceilingMedian: median(rows.map((r) => r.ceiling)),
  commMsPerStepMedian: median(rows.map((r) => r.commSecondsPerStep * 1000)),
  payloadMiBPerStep: rows[0]!.payloadBytesPerStep / 2 ** 20,
  trials: rows,
};
log(`2 vs 1 worker: x${summary.speedupMedian.toFixed(2)} median (min ${summary.speedupMin.toFixed(2)}, max ${summary.speedupMax.toFixed(2)}) over ${trials} interleaved trials (machine ceiling x${summary.ceilingMedian.toFixed(2)}); ` +
  `communication (rank 0 blocked, incl. waiting for the slower rank) ${summary.commMsPerStepMedian.toFixed(0)} ms/step, ${summary.payloadMiBPerStep.toFixed(1)} MiB/step`);
if (args.includes('--json')) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
