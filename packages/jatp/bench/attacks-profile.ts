/**
 * Where AutoAttack's time goes on the bench's small CNN (dev tool for docs/engine-speed.md):
 * per stage, the seconds, the kernel calls the engine dispatched, the host reads
 * (dataSync / data / arraySync) and the kernels by name, for one run on the first --images
 * Fashion-MNIST test images. Load-independent counts first, time second.
 *
 *   npx tsx bench/attacks-profile.ts --images 200 [--sequential] [--kernel-time]
 *       [--full-runs TARGET_RUN,PURIFIER_RUN] [--stages apgd-ce,apgd-t,fab-t,square]
 *
 * --full-runs profiles part (b) instead: the full model of a trained target and purifier run folder
 * (as `bench:attacks --full-runs`). --stages runs only the named stages, in AutoAttack's order, each
 * on the points the stages before it in the list left.
 *
 * --kernel-time also measures the wall time inside each kernel call (high-resolution clock around
 * the engine's runKernel, outermost calls only) and prints, per stage, the kernels that took the
 * most of it and the time spent outside kernels (the tfjs engine, the tape, JS bookkeeping).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as tf from '@tensorflow/tfjs-core';
import { kernelStats } from 'tfjs-backend-torch';

import { initBackend } from '../src/backend.js';
import { STANDARD_STAGES, autoAttackCustom } from '../src/attacks/autoattack.js';
import { machine } from '../../tfjs-backend-torch/bench/interleave.js';
import { smallCnnBench } from './attacks-small-cnn.js';
import { runFolderFullModelBench } from './attacks-full-model.js';
import { positiveIntFlag, stringFlag } from './flags.js';

const args = process.argv.slice(2);
const images = positiveIntFlag(args, '--images', 200);
const sequential = args.includes('--sequential');
const kernelTime = args.includes('--kernel-time');
const fullRuns = stringFlag(args, '--full-runs')?.split(',');
if (fullRuns !== undefined && (fullRuns.length !== 2 || fullRuns.some((p) => p === ''))) throw new Error(`--full-runs: expected TARGET_RUN,PURIFIER_RUN, got '${fullRuns.join(',')}'`);
const stageNames = stringFlag(args, '--stages')?.split(',');

async function main(): Promise<void> {
  await initBackend();
  const here = path.dirname(fileURLToPath(import.meta.url));
  const bm = fullRuns !== undefined
    ? await runFolderFullModelBench({ images, targetRun: fullRuns[0]!, purifierRun: fullRuns[1]! })
    : await smallCnnBench({ images, eps: 0.1, trainSteps: 300, tradesEpochs: 3, cache: path.resolve(here, '../../../.cache/bench-attacks') });
  let reads = 0;
  const proto = tf.Tensor.prototype as unknown as Record<string, (...a: unknown[]) => unknown>;
  for (const name of ['dataSync', 'data', 'arraySync', 'array']) {
    const orig = proto[name]!;
    proto[name] = function (this: unknown, ...a: unknown[]) { reads++; return orig.apply(this, a); };
  }
  const byKernel = new Map<string, number>();
  const msByKernel = new Map<string, number>();
  let depth = 0;
  const engine = tf.engine() as unknown as { runKernel: (name: string, ...rest: unknown[]) => unknown };
  const run = engine.runKernel.bind(engine);
  engine.runKernel = (name: string, ...rest: unknown[]) => {
    byKernel.set(name, (byKernel.get(name) ?? 0) + 1);
    if (!kernelTime || depth > 0) return run(name, ...rest);
    depth++;
    const t0 = performance.now();
    try { return run(name, ...rest); } finally {
      msByKernel.set(name, (msByKernel.get(name) ?? 0) + performance.now() - t0);
      depth--;
    }
  };
  const calls = (): number => kernelStats.native + kernelStats.fallback;
  const cpu = (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
  let mark = { t: performance.now(), cpu: cpu(), c: calls(), r: reads, k: new Map(byKernel), ms: new Map(msByKernel) };
  const host = machine();
  console.log(`${host.cpuModel}, load ${host.loadavg.join(' ')}, ${host.date}; ${images} images, ${sequential ? 'sequential' : 'batched'} targets`);
  const known = STANDARD_STAGES.map((s) => s.attack as string);
  for (const n of stageNames ?? []) if (!known.includes(n)) throw new Error(`--stages: '${n}' is not one of ${known.join(', ')}`);
  const chosen = stageNames === undefined ? STANDARD_STAGES : STANDARD_STAGES.filter((s) => stageNames.includes(s.attack));
  const stages = chosen.map((s) => ({ ...s, options: { ...s.options, batchTargets: !sequential } }));
  const report = autoAttackCustom(stages, {
    eps: bm.eps,
    onStage: (s) => {
      const now = { t: performance.now(), cpu: cpu(), c: calls(), r: reads, k: new Map(byKernel), ms: new Map(msByKernel) };
      const top = [...now.k].map(([k, v]) => [k, v - (mark.k.get(k) ?? 0)] as const).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]).slice(0, 12);
      console.log(`${s.name}: ${((now.t - mark.t) / 1000).toFixed(2)} s wall, ${(now.cpu - mark.cpu).toFixed(2)} s CPU, ${now.c - mark.c} kernel calls, ${now.r - mark.r} host reads, robust ${(100 * s.robustAccuracy).toFixed(1)}% (fooled ${s.newlyFooled})`);
      console.log(`   ${top.map(([k, v]) => `${k} ${v}`).join(', ')}`);
      if (kernelTime) {
        const spent = [...now.ms].map(([k, v]) => [k, v - (mark.ms.get(k) ?? 0)] as const).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]);
        const inKernels = spent.reduce((a, [, v]) => a + v, 0);
        const wall = now.t - mark.t;
        console.log(`   in kernels ${(inKernels / 1000).toFixed(2)} s, outside ${((wall - inKernels) / 1000).toFixed(2)} s; ${spent.slice(0, 24).map(([k, v]) => `${k} ${(v / 1000).toFixed(2)}`).join(', ')}`);
      }
      mark = now;
    },
  }).run(bm.logits, bm.x, bm.y, 0);
  report.xAdv.dispose();
  console.log(`clean ${(100 * report.cleanAccuracy).toFixed(1)}%, robust ${(100 * report.robustAccuracy).toFixed(1)}%, load ${machine().loadavg.join(' ')}`);
  bm.dispose();
}
main().catch((e) => { console.error(e); process.exit(1); });
