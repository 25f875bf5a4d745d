/**
 * Child process for the kill-and-resume test of an AutoAttack evaluation: evaluates a fixed linear
 * model on a fixed split with a small-budget AutoAttack (all four standard stages), recording its
 * state in argv[2], and writes the report to argv[3] when it finishes.
 */
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { autoAttackCustom } from '../../src/attacks/autoattack.js';
import { parseAttackSpec } from '../../src/attacks/attack-specs.js';
import { evaluate } from '../../src/evaluation/evaluate.js';
import { writeFileAtomicSync } from '../../src/io/atomic-write.js';
import { ensureGradients } from '../../src/gradients.js';
import { hashFloat, tinySplit } from '../training/tiny.js';

await tf.setBackend('cpu');
ensureGradients();
const [statePath, outPath] = process.argv.slice(2) as [string, string];
const SHAPE = [6, 6, 1] as const;
const D = 36;
const w = tf.tensor2d(Float32Array.from({ length: D * 10 }, (_, i) => 0.6 * hashFloat(i, 31)), [D, 10]);
const logits = (x: tf.Tensor4D): tf.Tensor2D => tf.tidy(() => tf.matMul(tf.reshape(x, [x.shape[0], D]), w));
const base = tinySplit(24, SHAPE, 10, 5);
// Labels = the model's own predictions: every point is attacked by every stage.
const predicted = tf.tidy(() => tf.argMax(logits(tf.div(tf.tensor4d(base.images, [24, ...SHAPE], 'float32'), 255)), 1));
const split = { ...base, labels: Int32Array.from(predicted.dataSync()) };
predicted.dispose();
const report = evaluate({ logits, bpdaLogits: logits }, split, {
  attacks: [parseAttackSpec('aa')],
  eps: 0.03,
  norm: 'Linf',
  batchSize: 4,
  seed: 3,
  statePath,
  identity: { model: 'linear-6x6' },
  build: (_spec, eps, norm) =>
    autoAttackCustom(
      [
        { attack: 'apgd-ce', options: { nIter: 8 } },
        { attack: 'apgd-t', options: { nIter: 4, nTargetClasses: 3 } },
        { attack: 'fab-t', options: { nIter: 4, nTargetClasses: 3 } },
        { attack: 'square', options: { nQueries: 60 } },
      ],
      { eps, norm },
    ),
});
writeFileAtomicSync(outPath, JSON.stringify(report));
