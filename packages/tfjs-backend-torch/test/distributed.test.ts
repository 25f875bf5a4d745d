/**
 * Process groups over c10d/Gloo on 127.0.0.1: two real ranks (child processes) run every
 * collective against closed forms, and a SIGKILLed rank makes its peer fail with an error naming
 * it, well within the timeout. Skips (saying why) when the addon has no distributed support.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { distributedStatus, freeLocalPort } from '../src/index.js';

const worker = fileURLToPath(new URL('./fixtures/dist_worker.ts', import.meta.url));
const status = distributedStatus();
const skip = status.available ? false : `distributed unavailable: ${status.reason}`;


interface Rank {
  proc: ChildProcess;
  lines: Array<Record<string, unknown>>;
  done: Promise<number>;
  stderr: () => string;
}

function launch(scenario: string, rank: number, world: number, port: number, extra: Record<string, string> = {}): Rank {
  const proc = spawn(process.execPath, ['--import', 'tsx', worker, scenario], {
    env: { ...process.env, RANK: String(rank), WORLD_SIZE: String(world), LOCAL_RANK: String(rank), MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port), TFJS_TORCH_NUM_THREADS: '1', ...extra },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Array<Record<string, unknown>> = [];
  let err = '';
  let buf = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (l.startsWith('{')) lines.push(JSON.parse(l) as Record<string, unknown>);
    }
  });
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<number>((res) => proc.on('close', (code) => res(code ?? -1)));
  return { proc, lines, done, stderr: () => err };
}

test('without a loadable addon, distributedStatus() says why and initProcessGroup() throws it', () => {
  const index = fileURLToPath(new URL('../src/index.ts', import.meta.url));
  const script = `
    const m = await import(${JSON.stringify(index)});
    let thrown = null;
    try { m.initProcessGroup({ rank: 0, worldSize: 1 }); } catch (e) { thrown = e.message; }
    console.log(JSON.stringify({ status: m.distributedStatus(), thrown }));
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    env: { ...process.env, TFJS_TORCH_ADDON: '/nonexistent/tfjs_backend_torch.node' },
    encoding: 'utf8',
    cwd: fileURLToPath(new URL('..', import.meta.url)),
  });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop()!);
  assert.equal(out.status.available, false);
  assert.deepEqual(out.status.backends, []);
  assert.match(out.status.reason, /torch' backend is unavailable: native addon not found at \/nonexistent/);
  assert.match(out.thrown, /^distributed unavailable: /);
});

// Whether Gloo must be there is installed_means.test.ts's job (it fails where libgloo-dev is
// installed but the engine lacks it); here: an engine with process groups has the CPU backend.
test('an engine with process groups lists the gloo backend and no reason', { skip }, () => {
  assert.equal(status.available, true);
  assert.ok(status.backends.includes('gloo'), `backends: ${status.backends.join(', ')}`);
  assert.equal(status.reason, undefined);
});

test('2 ranks: allReduce (bucketed, sum and mean), broadcast, allGather, barrier match closed forms', { skip, timeout: 60_000 }, async () => {
  const port = await freeLocalPort();
  const ranks = [0, 1].map((r) => launch('collectives', r, 2, port));
  const codes = await Promise.all(ranks.map((r) => r.done));
  ranks.forEach((r, i) => assert.equal(codes[i], 0, `rank ${i} failed: ${r.stderr()}`));
  for (const r of ranks) {
    const o = r.lines.at(-1)!;
    // a = rank+1 -> sum 1+2 = 3; mean of 2a = (2+4)/2 = 3; broadcast from rank 1 -> a = 2.
    assert.deepEqual(o.sumA, new Array(12).fill(3));
    assert.deepEqual(o.sumB, [10, 12, 14]); // [0,1,2] + [10,11,12]
    assert.deepEqual(o.meanA2, new Array(12).fill(3));
    assert.deepEqual(o.bcastA, new Array(12).fill(2));
    assert.deepEqual(o.bcastB, [10, 11, 12]);
    assert.deepEqual(o.gathered, [[0, 1, 2], [10, 11, 12]]);
    assert.deepEqual(o.inputUnchanged, new Array(12).fill(Number(o.rank) + 1));
    assert.equal(o.newTensors, 7); // 2 + 1 + 2 + 2 gathered
    assert.equal(o.afterDispose, 0);
    const stats = o.stats as { payloadBytes: number; collectives: number };
    // Two buckets for [a, b] (16-byte limit splits a from b), one for [a], two broadcast buckets, one all-gather, one barrier.
    assert.equal(stats.collectives, 5);
    assert.equal(stats.payloadBytes, (48 + 12) + 48 + (48 + 12) + 12);
  }
});

for (const victim of [1, 0]) {
  test(`a SIGKILLed rank ${victim} makes its peer fail naming it, within the timeout`, { skip, timeout: 60_000 }, async () => {
    const port = await freeLocalPort();
    const timeoutMs = 15_000;
    const env = { VICTIM: String(victim), TEST_TIMEOUT_MS: String(timeoutMs) };
    const ranks = [0, 1].map((r) => launch('die', r, 2, port, env));
    const v = ranks[victim]!;
    const survivor = ranks[1 - victim]!;
    const t0 = Date.now();
    while (!v.lines.some((l) => l.ready === true)) {
      if (Date.now() - t0 > 45_000) throw new Error(`victim never got ready: ${v.stderr()}`);
      await new Promise((res) => setTimeout(res, 50));
    }
    await new Promise((res) => setTimeout(res, 300)); // let the survivor block in a collective
    const killedAt = Date.now();
    v.proc.kill('SIGKILL');
    const code = await survivor.done;
    const waited = (Date.now() - killedAt) / 1000;
    assert.ok(waited < timeoutMs / 1000 + 10, `survivor took ${waited} s`);
    const o = survivor.lines.at(-1);
    let message: string;
    if (code === 0) {
      // The failed collective came back to JS as an error.
      assert.equal(typeof o?.error, 'string', 'the collective did not fail');
      message = o!.error as string;
      assert.match(message, /allReduce failed on rank \d of 2/);
      assert.match(message, new RegExp(`rank ${victim} is dead`));
    } else {
      // Only when the store's host died: libtorch's TCPStore thread may see it first; the process
      // then exits 1 with a message instead of aborting.
      assert.equal(victim, 0, `survivor exited ${code}: ${survivor.stderr()}`);
      assert.equal(code, 1, survivor.stderr());
      message = survivor.stderr();
      assert.match(message, /rank 1 of 2 lost its connection to the TCPStore .*rank 0 is dead or unreachable/);
    }
    console.log(`# survivor (exit ${code}) after ${waited.toFixed(1)} s: ${message.trim().slice(0, 300)}`);
  });
}
