/**
 * Data-parallel training over c10d/Gloo on 127.0.0.1 (training/data-parallel.ts): two ranks, each
 * training half of every global batch with a recipe that steps two optimizers (SGD, Adam) per step
 * like the GAN defenses, end with the weights one process gets on the whole batch (synchronized
 * batch norm: the tiny run's small-cnn has BN); a run stopped and resumed with the
 * same world size ends bitwise equal to the uninterrupted one; without batch-norm sync the ranks'
 * per-shard statistics make the result differ (so the comparison can fail). Only rank 0 writes.
 * Skips, saying why, where the engine has no distributed support.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { distributedStatus, freeLocalPort } from 'tfjs-backend-torch';
import { readCheckpointFile } from '../../src/io/checkpoint-file.js';
import { latestCheckpoint } from '../../src/training/loop.js';
import { shardRange } from '../../src/training/data-parallel.js';
import { argvWithoutNproc } from '../../src/cli/data-parallel-flags.js';
import { tinyRun } from './fixtures/tiny-run.js';

const worker = fileURLToPath(new URL('./fixtures/ddp-run.ts', import.meta.url));
const status = distributedStatus();
const skip = status.available ? false : `distributed unavailable: ${status.reason}`;


/** Runs the tiny run on `world` ranks; resolves with each rank's printed JSON. */
async function ddpRun(outDir: string, world: number, args: string[]): Promise<Array<Record<string, unknown>>> {
  const port = await freeLocalPort();
  const runs = Array.from({ length: world }, (_, rank) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const p = spawn(process.execPath, ['--import', 'tsx', worker, outDir, ...args], {
        env: { ...process.env, RANK: String(rank), WORLD_SIZE: String(world), LOCAL_RANK: String(rank), MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port), TFJS_TORCH_NUM_THREADS: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      p.stderr.on('data', (d: Buffer) => (err += d.toString()));
      p.on('close', (code) => {
        const line = out.trim().split('\n').filter((l) => l.startsWith('{')).pop();
        if (code !== 0 || line === undefined) reject(new Error(`rank ${rank} exited ${code}: ${err}`));
        else resolve(JSON.parse(line) as Record<string, unknown>);
      });
    }),
  );
  return Promise.all(runs);
}

function stateOf(outDir: string): Map<string, Float32Array> {
  const file = latestCheckpoint(outDir);
  assert.ok(file, `no checkpoint in ${outDir}`);
  const out = new Map<string, Float32Array>();
  for (const [k, t] of readCheckpointFile(file).tensors) if (k.startsWith('state/') || k.startsWith('opt/')) out.set(k, t.data as Float32Array);
  return out;
}

function maxRelDiff(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  let worst = 0;
  for (const [k, x] of a) {
    const y = b.get(k)!;
    let scale = 1e-3;
    for (const v of y) scale = Math.max(scale, Math.abs(v));
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!) / scale);
  }
  return worst;
}

test('2 ranks x 12 steps of a two-optimizer recipe (sync BN) = 1 process on the whole batch; resume exact; per-rank BN differs', { skip, timeout: 240_000 }, async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'jatp-ddp-'));
  try {
    // The reference: one process on the engine, global batch 4.
    process.env.TINY_RUN_BACKEND = 'torch';
    process.env.TINY_RUN_RECIPE = 'two-groups'; // two optimizers per step, like the GAN defenses; inherited by the ranks
    const single = path.join(root, 'single');
    await tinyRun(single);
    const ref = stateOf(single);

    const synced = path.join(root, 'sync');
    const [r0, r1] = await ddpRun(synced, 2, ['--sync-bn']);
    assert.equal((r0!.summary as { globalStep: number }).globalStep, 12);
    assert.equal((r1!.summary as { globalStep: number }).globalStep, 12);
    // Only rank 0 wrote into the run folder; rank 1's scratch folder is gone.
    assert.equal((r0!.summary as { outDir: string }).outDir, synced);
    assert.ok(!fs.existsSync((r1!.summary as { outDir: string }).outDir), 'rank 1 left its scratch folder');
    const metrics = fs.readFileSync(path.join(synced, 'metrics.jsonl'), 'utf8').trim().split('\n');
    assert.equal(metrics.filter((l) => l.includes('"type":"step"')).length, 12, 'one metrics line per step, written once');
    const ddp = stateOf(synced);
    const diff = maxRelDiff(ddp, ref);
    console.log(`# 2 ranks vs 1 process: max relative weight difference ${diff.toExponential(2)}`);
    assert.ok(diff < 1e-4, `2-rank weights differ from 1 process by ${diff} (relative to each tensor's max)`);
    // Metrics are the global batch's, not rank 0's half.
    const last = (s: string): number => (JSON.parse(s) as { loss_b: number }).loss_b;
    const refMetrics = fs.readFileSync(path.join(single, 'metrics.jsonl'), 'utf8').trim().split('\n').filter((l) => l.includes('"type":"step"'));
    const ddpSteps = metrics.filter((l) => l.includes('"type":"step"'));
    assert.ok(Math.abs(last(ddpSteps.at(-1)!) - last(refMetrics.at(-1)!)) < 1e-4 * Math.max(1, Math.abs(last(refMetrics.at(-1)!))));

    // Stopped after 5 steps (mid-epoch checkpoint), then resumed with the same world size.
    const resumed = path.join(root, 'resumed');
    await ddpRun(resumed, 2, ['--sync-bn', '--stop-after', '5']);
    await ddpRun(resumed, 2, ['--sync-bn', '--resume']);
    assert.equal(maxRelDiff(stateOf(resumed), ddp), 0, 'resumed 2-rank run is not bitwise equal to the uninterrupted one');

    // Per-rank BN statistics (the default): not the single-process result.
    const perRank = path.join(root, 'per-rank');
    await ddpRun(perRank, 2, []);
    assert.ok(maxRelDiff(stateOf(perRank), ref) > 1e-3, 'per-rank batch norm unexpectedly matched the global-batch result');
  } finally {
    delete process.env.TINY_RUN_RECIPE;
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('shardRange splits a batch into disjoint contiguous slices covering it', () => {
  for (const [n, world] of [[4, 2], [5, 2], [7, 3], [16, 16]] as const) {
    const seen: number[] = [];
    for (let r = 0; r < world; r++) {
      const [lo, hi] = shardRange(n, r, world);
      assert.ok(hi - lo >= Math.floor(n / world) && hi - lo <= Math.ceil(n / world), `${n}/${world} rank ${r}: ${lo}..${hi}`);
      for (let i = lo; i < hi; i++) seen.push(i);
    }
    assert.deepEqual(seen, Array.from({ length: n }, (_, i) => i));
  }
});

test('--nproc is removed from the command line the workers re-run, in both spellings', () => {
  assert.deepEqual(argvWithoutNproc(['main.ts', 'train-target', '--nproc', '2', '--out', 'x']), ['main.ts', 'train-target', '--out', 'x']);
  assert.deepEqual(argvWithoutNproc(['main.ts', '--nproc=4', '--sync-bn']), ['main.ts', '--sync-bn']);
});
