/**
 * What the engine's native L-inf box projection buys FAB-T (`npx tsx packages/jatp/bench/fab-projection-ab.ts
 * [--images N] [--pairs N] [--json FILE]`): on bench:attacks part (a)'s robust small CNN (TRADES, cpu
 * preset, Fashion-MNIST), APGD-CE runs once as AutoAttack's first stage and FAB-T (9 targets, 100
 * iterations, batched targets, as in AutoAttack standard) then attacks the points it left, with the
 * projection native (ops_projection.cc: weighted selection) and composed from tfjs ops (a sort per
 * row, the engine before it), alternating in one process: pair i runs native-then-composed for even i
 * and composed-then-native for odd i. Prints the median ratio native / composed of wall and process
 * CPU time with min-max, each side's robust accuracy and how many points' outcomes differ (the two
 * agree up to float32 rounding, so a point on the edge may fall on either side), the CPU model and
 * the load average before and after.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as tf from '@tensorflow/tfjs-core';

import { apgdCe } from '../src/attacks/apgd.js';
import { fabT } from '../src/attacks/fab.js';
import { setNativeProjection } from '../src/attacks/fab-projection.js';
import { initBackend } from '../src/backend.js';
import { machine, median } from '../../tfjs-backend-torch/bench/interleave.js';
import { smallCnnBench } from './attacks-small-cnn.js';
import { positiveIntFlag } from './flags.js';
import { timed, type Timed } from './timing.js';

const args = process.argv.slice(2);
const images = positiveIntFlag(args, '--images', 200);
const pairs = positiveIntFlag(args, '--pairs', 3);
const jsonAt = args.indexOf('--json');
const jsonOut = jsonAt < 0 ? undefined : args[jsonAt + 1];

const backend = await initBackend();
if (backend !== 'torch') throw new Error(`fab-projection-ab: needs the torch engine, got '${backend}'`);
const here = path.dirname(fileURLToPath(import.meta.url));
const bm = await smallCnnBench({ images, eps: 0.1, trainSteps: 300, tradesEpochs: 3, cache: path.resolve(here, '../../../.cache/bench-attacks') });

// AutoAttack's first stage, once: FAB-T then sees the points APGD-CE left, as in the standard suite.
const first = apgdCe({ eps: bm.eps, nIter: 100 }).run(bm.logits, bm.x, bm.y, 0);
const keep = first.success.flatMap((fooled, i) => (fooled ? [] : [i]));
first.xAdv.dispose();
const idx = tf.tensor1d(keep, 'int32');
const x = tf.gather(bm.x, idx) as tf.Tensor4D;
const y = tf.gather(bm.y, idx) as tf.Tensor1D;
idx.dispose();

const attack = fabT({ eps: bm.eps, nIter: 100, nTargetClasses: 9, restarts: 1 });
const outcomes: Record<'native' | 'composed', boolean[]> = { native: [], composed: [] };
const times: Record<'native' | 'composed', Timed[]> = { native: [], composed: [] };
const load0 = machine().loadavg;
for (let i = 0; i < pairs; i++) {
  for (const side of i % 2 === 0 ? (['native', 'composed'] as const) : (['composed', 'native'] as const)) {
    setNativeProjection(side === 'native');
    let robust: boolean[] = [];
    times[side].push(timed(() => {
      const r = attack.run(bm.logits, x, y, 0);
      robust = r.success.map((fooled) => !fooled);
      r.xAdv.dispose();
    }));
    outcomes[side] = robust;
  }
}
setNativeProjection(true);
const load1 = machine().loadavg;
const host = machine();
const wall = times.native.map((t, i) => t.seconds / times.composed[i]!.seconds);
const cpu = times.native.map((t, i) => t.cpuSeconds / times.composed[i]!.cpuSeconds);
const acc = (r: boolean[]) => (100 * r.filter(Boolean).length) / bm.x.shape[0];
const differ = outcomes.native.filter((v, i) => v !== outcomes.composed[i]).length;
const s = (ts: Timed[], k: keyof Timed) => median(ts.map((t) => t[k])).toFixed(2);
console.log(`FAB-T (9 targets x 100 iterations) on the ${keep.length} of ${bm.x.shape[0]} points APGD-CE left, projection native / composed: ` +
  `wall ${median(wall).toFixed(3)} (min-max ${Math.min(...wall).toFixed(2)}-${Math.max(...wall).toFixed(2)}), CPU time ${median(cpu).toFixed(3)} ` +
  `(${Math.min(...cpu).toFixed(2)}-${Math.max(...cpu).toFixed(2)}) over ${pairs} pairs; medians wall ${s(times.native, 'seconds')} vs ${s(times.composed, 'seconds')} s, ` +
  `CPU ${s(times.native, 'cpuSeconds')} vs ${s(times.composed, 'cpuSeconds')} s; robust after FAB-T ${acc(outcomes.native).toFixed(1)}% vs ${acc(outcomes.composed).toFixed(1)}% ` +
  `of ${bm.x.shape[0]} (${differ} points differ); model ${bm.description}; load average ${load0.join(' ')} -> ${load1.join(' ')}; ${host.cpuModel}, ${host.cpus} CPUs, ${host.date}`);
if (jsonOut) {
  fs.writeFileSync(jsonOut, `${JSON.stringify({ workload: 'FAB-T after APGD-CE, robust small CNN', machine: host, images: bm.x.shape[0], attacked: keep.length, pairs,
    native: times.native, composed: times.composed, wallRatio: { median: median(wall), min: Math.min(...wall), max: Math.max(...wall) },
    cpuRatio: { median: median(cpu), min: Math.min(...cpu), max: Math.max(...cpu) }, robustPercent: { native: acc(outcomes.native), composed: acc(outcomes.composed) },
    pointsDiffering: differ, loadavgBefore: load0, loadavgAfter: load1 }, null, 2)}\n`);
}
tf.dispose([x, y]);
bm.dispose();
