import * as tf from '@tensorflow/tfjs-core';
import { createRequire } from 'node:module';
import { sgdMomentumStep } from '../src/index.js';
import { resnet18 } from './resnet18.js';
createRequire(import.meta.url)('@tensorflow/tfjs-core/dist/register_all_gradients');
await tf.setBackend('torch');
const net = resnet18(10, 1, { fusedBatchNorm: true });
const b = Number(process.argv[2] ?? 32);
const x = tf.randomUniform([b, 32, 32, 3]) as tf.Tensor4D; const y = tf.oneHot(tf.randomUniform([b], 0, 10, 'int32'), 10);
const vel = net.trainable.map((v) => tf.tidy(() => tf.variable(tf.zerosLike(v), false)));
const step = () => tf.tidy(() => {
  const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, net.forward(x, true)) as tf.Scalar, net.trainable);
  sgdMomentumStep(net.trainable, vel, net.trainable.map((v) => grads[v.name]!), { lr: 0.01, momentum: 0.9, weightDecay: 0 });
  return value.dataSync()[0];
});
step();
const t0 = Date.now();
const info = await tf.profile(() => { step(); return tf.scalar(0); });
const total = Date.now() - t0;
const agg = new Map<string, { ms: number; calls: number }>();
for (const k of info.kernels) { const a = agg.get(k.name) ?? { ms: 0, calls: 0 }; a.ms += Number(await k.kernelTimeMs); a.calls++; agg.set(k.name, a); }
console.log('total ms', total);
for (const [k, v] of [...agg.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 14)) console.log(k.padEnd(28), v.calls, v.ms.toFixed(0));
