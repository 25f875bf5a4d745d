/**
 * `npm run bench:web`: milliseconds per PGD step through the cpu-preset JATP full model
 * F(x) = T(clip01(P(x))) (JATP purifier nf 16, gc 8, 1 RRDB in front of the width-8 small-CNN,
 * 28×28×1) at batch 1 and 32, on each tfjs backend headless Chromium offers (in the audit page's
 * worker, with its wasm kernels), beside Node's `torch` backend on the same networks. The networks
 * are built untrained from the registry: a step's time does not depend on the weights.
 * Sides run one after the other (the machine has 2 cores); each repeat's median and range are printed,
 * with the ratio to Node's torch and the CPU model and load average.
 *
 *   npm run bench:web [-- --backends wasm,webgl,cpu --batches 1,32 --budget-ms 8000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { buildAttack, buildNetwork, exportTfjsModel, fullModel, initBackend, parseAttackSpec, type Classifier, type Preprocessor } from 'jatp';
import { buildAuditSite, copyTfjsModel } from '../scripts/audit-site.js';
import { serveFolder } from '../scripts/static-server.js';
import { browserSkipReason, launchBrowser } from '../test/browser.js';
import type { BenchJob, BenchResult, WorkerMessage } from '../src/audit/protocol.js';

const { values } = parseArgs({ options: { backends: { type: 'string', default: 'wasm,webgl,cpu' }, batches: { type: 'string', default: '1,32' }, 'budget-ms': { type: 'string', default: '8000' } } });
const backends = values.backends.split(',') as BenchJob['backend'][];
const batches = values.batches.split(',').map(Number);
const budgetMs = Number(values['budget-ms']);
const SHAPE: [number, number, number] = [28, 28, 1];

const median = (v: readonly number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

interface Row {
  side: string;
  batch: number;
  ms: number[];
  steps: number;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'jatp-bench-web-'));
  const rows: Row[] = [];
  const load = [loadavg()[0]!];
  try {
    const backendName = await initBackend();
    const t = buildNetwork('small-cnn', { width: 8, inChannels: 1, inputSize: 28, numClasses: 10, seed: 1 }) as Classifier;
    const p = buildNetwork('jatp-purifier', { nf: 16, gc: 8, nb: 1, inChannels: 1, inputSize: 28, seed: 2 }) as Preprocessor;
    await exportTfjsModel(t, path.join(dir, 't'));
    await exportTfjsModel(p, path.join(dir, 'p'));

    // Node, the toolkit's own engine.
    const f = fullModel(t, p);
    for (const batch of batches) {
      const x = tf.randomUniform([batch, ...SHAPE], 0, 1, 'float32', 7) as tf.Tensor4D;
      const y = tf.zeros([batch], 'int32') as tf.Tensor1D;
      const time = (steps: number): number => {
        const t0 = performance.now();
        const r = buildAttack(parseAttackSpec(`pgd${steps}`), { eps: 0.1, norm: 'Linf' }).run(f, x, y, 0);
        r.xAdv.dataSync();
        tf.dispose(r.xAdv);
        return performance.now() - t0;
      };
      const first = time(1);
      const steps = Math.max(2, Math.min(10, Math.round(1000 / Math.max(1, first))));
      const ms: number[] = [];
      const started = performance.now();
      while (ms.length < 5 && (ms.length === 0 || performance.now() - started < budgetMs)) ms.push(time(steps) / steps);
      tf.dispose([x, y]);
      rows.push({ side: `node ${backendName}`, batch, ms, steps });
      console.error(`node ${backendName} batch ${batch}: ${median(ms).toFixed(1)} ms/step`);
    }
    t.dispose();
    p.dispose();
    load.push(loadavg()[0]!);

    const skip = browserSkipReason();
    if (skip) {
      console.error(`browser side skipped: ${skip}`);
    } else {
      const site = path.join(dir, 'site');
      await buildAuditSite({ outDir: site, fashionMnistCount: 1 });
      await copyTfjsModel(path.join(dir, 't'), path.join(site, 'models', 't'), 'T');
      await copyTfjsModel(path.join(dir, 'p'), path.join(site, 'models', 'p'), 'P');
      const server = await serveFolder(site);
      const browser = await launchBrowser();
      try {
        const { page } = await browser.open(`${server.url}audit.html`);
        const version = browser.context.browser()?.version() ?? '?';
        for (const backend of backends) {
          const job: BenchJob = { backend, classifierUrl: 'models/t/model.json', preprocessorUrl: 'models/p/model.json', imageShape: SHAPE, batchSizes: batches, budgetMs };
          const results = await page.evaluate(
            (j) =>
              new Promise<WorkerMessage[]>((resolve) => {
                const w = new Worker('audit-worker.js', { type: 'module' });
                const got: WorkerMessage[] = [];
                w.onmessage = (e: MessageEvent<WorkerMessage>) => {
                  got.push(e.data);
                  if (e.data.type === 'bench-done' || e.data.type === 'error') {
                    w.terminate();
                    resolve(got);
                  }
                };
                w.postMessage({ type: 'bench', job: j });
              }),
            job,
          );
          for (const r of results) {
            if (r.type === 'error') console.error(`chromium ${backend}: ${r.message}`);
            if (r.type !== 'bench') continue;
            const b = r as BenchResult;
            rows.push({ side: `chromium ${version} ${b.detail}`, batch: b.batch, ms: [...b.msPerStep], steps: b.steps });
            console.error(`chromium ${b.detail} batch ${b.batch}: ${b.msPerStep.length ? `${median(b.msPerStep).toFixed(1)} ms/step` : 'not run'}`);
          }
        }
      } finally {
        await browser.close();
        await server.close();
      }
    }
    load.push(loadavg()[0]!);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const torch = new Map(rows.filter((r) => r.side.startsWith('node')).map((r) => [r.batch, median(r.ms)]));
  console.log(`PGD step through the cpu-preset JATP full model (28×28×1), ${new Date().toISOString().slice(0, 10)}, ${cpus()[0]?.model ?? '?'} (${cpus().length} cores), load average ${load.map((l) => l.toFixed(1)).join(' → ')}`);
  console.log('');
  console.log('| where | batch | ms per step (median) | range | repeats × steps | vs Node |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    if (r.ms.length === 0) {
      console.log(`| ${r.side} | ${r.batch} | not run: batch 1 predicts more than ${((4 * budgetMs) / 1000).toFixed(0)} s per step | | | |`);
      continue;
    }
    const m = median(r.ms);
    const ref = torch.get(r.batch);
    console.log(`| ${r.side} | ${r.batch} | ${m.toFixed(1)} | ${Math.min(...r.ms).toFixed(1)}–${Math.max(...r.ms).toFixed(1)} | ${r.ms.length} × ${r.steps} | ${ref ? `${(m / ref).toFixed(2)}×` : ''} |`);
  }
}

main().catch((err: unknown) => {
  console.error(`bench:web failed: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});

