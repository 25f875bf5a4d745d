/**
 * Attack benchmark (`npm run bench:attacks`): kernel calls the engine dispatches per attack
 * iteration, and wall time of PGD-40, APGD-CE and AutoAttack standard, on
 *  (a) the small CNN of the speed issue (conv 1->16 k4 s2 p1, ReLU, conv 16->32 k4 s2 p1, ReLU,
 *      dense 1568->100, ReLU, dense 100->10; plain tf ops, seeded He init) on 28x28x1 inputs, and
 *  (b) the toolkit's ResNet-18 (tfjs-layers, as `jatp` trains it) on 32x32x3 inputs, counts only.
 * Images are synthetic (seeded uniform) and labelled with the model's own prediction, so clean
 * accuracy is 100% and the robust accuracies measure the attacks alone.
 * Not in this bench yet: the comparison with the reference AutoAttack in PyTorch on the same
 * weights and images, and the CPU-preset full model (purifier + classifier).
 *
 * Flags: --images N (default 100), --eps E (default 0.1), --skip-aa, --json.
 * Backend: `initBackend` (torch when its addon loads; JATP_BACKEND to force one).
 */
import * as tf from '@tensorflow/tfjs-core';
import { kernelStats } from 'tfjs-backend-torch';

import { initBackend } from '../src/backend.js';
import { apgdCe } from '../src/attacks/apgd.js';
import { autoAttack } from '../src/attacks/autoattack.js';
import { Pgd } from '../src/attacks/pgd.js';
import type { Attack } from '../src/attacks/types.js';
import { buildResnet18 } from '../src/models/resnet18.js';
import type { LogitsFn } from '../src/models/types.js';

const args = process.argv.slice(2);
function num(name: string, def: number): number {
  const i = args.indexOf(name);
  if (i < 0) return def;
  const v = Number(args[i + 1]);
  if (!(v > 0) || !Number.isFinite(v)) throw new Error(`bench/attacks.ts: ${name} expects a positive number, got '${args[i + 1]}'`);
  return v;
}
const images = Math.floor(num('--images', 100));
const eps = num('--eps', 0.1);
const log = (m: string): void => void process.stderr.write(`${m}\n`);

/** The speed issue's small CNN as a LogitsFn over [N, 28, 28, 1]. */
function smallCnn(seed: number): { model: LogitsFn; weights: tf.Tensor[] } {
  const he = (shape: number[], fanIn: number, s: number) => tf.randomNormal(shape, 0, Math.sqrt(2 / fanIn), 'float32', s);
  const w1 = he([4, 4, 1, 16], 16, seed), b1 = tf.zeros([16]);
  const w2 = he([4, 4, 16, 32], 256, seed + 1), b2 = tf.zeros([32]);
  const w3 = he([1568, 100], 1568, seed + 2), b3 = tf.zeros([100]);
  const w4 = he([100, 10], 100, seed + 3), b4 = tf.zeros([10]);
  // PyTorch's padding=1 with k4 s2: 28 -> 14 -> 7 (explicit symmetric padding, as the reference).
  const pad = [[0, 0], [1, 1], [1, 1], [0, 0]] as [number, number][];
  const model: LogitsFn = (x) => tf.tidy(() => {
    const h1 = tf.relu(tf.add(tf.conv2d(tf.pad(x, pad), w1 as tf.Tensor4D, 2, 'valid'), b1));
    const h2 = tf.relu(tf.add(tf.conv2d(tf.pad(h1, pad), w2 as tf.Tensor4D, 2, 'valid'), b2));
    const h3 = tf.relu(tf.add(tf.matMul(tf.reshape(h2, [x.shape[0], 1568]), w3), b3));
    return tf.add(tf.matMul(h3, w4), b4) as tf.Tensor2D;
  });
  return { model, weights: [w1, b1, w2, b2, w3, b3, w4, b4] };
}

const dispatched = (): number => kernelStats.native + kernelStats.fallback;

/** Kernel calls of one extra iteration: calls(k + 1 iterations) - calls(k iterations). */
function callsPerIteration(make: (iters: number) => Attack, model: LogitsFn, x: tf.Tensor4D, y: tf.Tensor1D): number {
  const count = (iters: number): number => {
    const before = dispatched();
    const r = make(iters).run(model, x, y, 0);
    r.xAdv.dispose();
    return dispatched() - before;
  };
  count(2); // warm-up
  return count(4) - count(3);
}

function robustAccuracy(model: LogitsFn, xAdv: tf.Tensor4D, y: tf.Tensor1D): number {
  return tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(model(xAdv), 1), y), 'float32')).dataSync()[0]!);
}

async function main(): Promise<void> {
  const backend = await initBackend();
  log(`backend ${backend}; ${images} synthetic images, eps ${eps}`);
  const results: Record<string, unknown> = { date: new Date().toISOString(), backend, images, eps };

  const cnn = smallCnn(7);
  const x = tf.randomUniform([images, 28, 28, 1], 0, 1, 'float32', 11) as tf.Tensor4D;
  const y = tf.tidy(() => tf.cast(tf.argMax(cnn.model(x), 1), 'int32')) as tf.Tensor1D;

  const counts: Record<string, number> = {};
  counts.smallCnn_pgd_step = callsPerIteration((n) => new Pgd({ eps, steps: n, stepSize: eps / 4, randomStart: false }), cnn.model, x, y);
  counts.smallCnn_apgd_ce_iteration = callsPerIteration((n) => apgdCe({ eps, nIter: n }), cnn.model, x, y);
  const net = buildResnet18({ seed: 1 });
  const rx = tf.randomUniform([8, 32, 32, 3], 0, 1, 'float32', 12) as tf.Tensor4D;
  const rmodel: LogitsFn = (t) => net.apply(t, false) as tf.Tensor2D;
  const ry = tf.tidy(() => tf.cast(tf.argMax(rmodel(rx), 1), 'int32')) as tf.Tensor1D;
  counts.resnet18_pgd_step = callsPerIteration((n) => new Pgd({ eps: 8 / 255, steps: n, stepSize: 2 / 255, randomStart: false }), rmodel, rx, ry);
  counts.resnet18_apgd_ce_iteration = callsPerIteration((n) => apgdCe({ eps: 8 / 255, nIter: n }), rmodel, rx, ry);
  tf.dispose([rx, ry]);
  results.kernelCallsPerIteration = counts;
  for (const [k, v] of Object.entries(counts)) log(`  kernel calls per ${k.replace(/_/g, ' ')}: ${v}`);

  const timed: Record<string, { seconds: number; robustAccuracy: number }> = {};
  const attacks: Array<[string, Attack]> = [
    ['pgd40', new Pgd({ eps, steps: 40, stepSize: eps / 4 })],
    ['apgd_ce', apgdCe({ eps })],
  ];
  if (!args.includes('--skip-aa')) attacks.push(['autoattack_standard', autoAttack({ eps })]);
  for (const [name, attack] of attacks) {
    const t0 = performance.now();
    const r = attack.run(cnn.model, x, y, 0);
    const seconds = (performance.now() - t0) / 1000;
    timed[name] = { seconds, robustAccuracy: robustAccuracy(cnn.model, r.xAdv, y) };
    r.xAdv.dispose();
    log(`  small CNN ${name}: ${seconds.toFixed(1)} s, robust accuracy ${(100 * timed[name]!.robustAccuracy).toFixed(1)}%`);
  }
  results.smallCnn = timed;
  tf.dispose([x, y, ...cnn.weights]);
  net.dispose();
  if (args.includes('--json')) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
