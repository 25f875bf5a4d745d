/**
 * `npm run bench:bn -w jatp -- [--arch resnet18] [--batch 32] [--pairs 5]`: one training-mode
 * forward + backward of a toolkit network on the torch backend with batch norm as the engine's
 * fused call (models/fused-batch-norm.ts) against tfjs-layers' stock composition, interleaved
 * (stock, fused, stock, fused ... after a warm-up of each), printing kernel calls per step and the
 * median time ratio fused/stock with its min-max over pairs, the CPU model and the load.
 * The optimizer step is left out: it is the same on both sides.
 */
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import 'tfjs-backend-torch';

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}
const arch = flag('arch', 'resnet18');
const batch = Number(flag('batch', '32'));
const pairs = Number(flag('pairs', '5'));
if (!Number.isInteger(batch) || batch < 2 || !Number.isInteger(pairs) || pairs < 1) {
  throw new Error('bench/batch-norm.ts: --batch must be an integer >= 2 and --pairs an integer >= 1');
}

// The stock call must be taken before the models module patches it.
type Call = (...a: unknown[]) => unknown;
const proto = Object.getPrototypeOf(tfl.layers.batchNormalization({})) as { call: Call };
const stock = proto.call;
const { buildNetwork, archInfo } = await import('../src/models/architectures.js');
const fused = proto.call;
if (fused === stock) throw new Error('bench/batch-norm.ts: the fused batch norm patch is not installed');

await tf.setBackend('torch');
const opts = archInfo(arch).defaults as { inChannels?: number; inputSize?: number };
const net = buildNetwork(arch);
const x = tf.randomUniform([batch, opts.inputSize ?? 32, opts.inputSize ?? 32, opts.inChannels ?? 3]) as tf.Tensor4D;

async function step(): Promise<number> {
  const t0 = performance.now();
  const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(net.apply(x, true))) as tf.Scalar, net.trainableVariables());
  await value.data(); // forces the work to finish (and syncs on CUDA)
  tf.dispose([value, ...Object.values(grads)]);
  return performance.now() - t0;
}
async function kernelCalls(): Promise<number> {
  const info = await tf.profile(() => {
    const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(net.apply(x, true))) as tf.Scalar, net.trainableVariables());
    tf.dispose(Object.values(grads));
    return value;
  });
  return info.kernels.length;
}

const sides = { stock, fused } as const;
const calls: Record<string, number> = {};
for (const [name, call] of Object.entries(sides)) {
  proto.call = call;
  calls[name] = await kernelCalls();
  await step();
}
const ratios: number[] = [];
const ms: Record<string, number[]> = { stock: [], fused: [] };
for (let p = 0; p < pairs; p++) {
  for (const [name, call] of Object.entries(sides)) {
    proto.call = call;
    ms[name]!.push(await step());
  }
  ratios.push(ms.fused![p]! / ms.stock![p]!);
}
proto.call = fused;
const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2; };
console.log(`${arch} batch ${batch}, train-mode forward+backward, torch backend; ${os.cpus()[0]?.model ?? 'unknown CPU'}, ` +
  `${os.cpus().length} cores, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}, ${new Date().toISOString()}`);
console.log(`kernel calls per step: stock ${calls.stock}, fused ${calls.fused}`);
console.log(`ms per step (median of ${pairs}): stock ${median(ms.stock!).toFixed(0)}, fused ${median(ms.fused!).toFixed(0)}; ` +
  `ratio fused/stock ${median(ratios).toFixed(3)} (min-max ${Math.min(...ratios).toFixed(3)}-${Math.max(...ratios).toFixed(3)})`);
tf.dispose([x]);
net.dispose();
