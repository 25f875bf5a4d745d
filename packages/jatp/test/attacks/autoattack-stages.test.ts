/**
 * AutoAttack end to end on models built so that APGD stalls on some points and a later stage must
 * act and change the outcome (spec §5.3: each stage attacks only the points the earlier ones left).
 *
 * The model is linear in the image: z_1 - z_0 = scale · (18.9 - sum of the 63 non-marker pixels),
 * the other two classes far below. An image of constant level p is class 0 with margin
 * scale · 63 (p - 0.3); with eps = 0.1 the best L∞ perturbation (every pixel -eps) removes
 * scale · 6.3, while a random one removes about scale · 0.5 — so whether a point can be fooled is
 * known in closed form, and only a coordinated perturbation fools it.
 * - Gradient masking: images whose marker pixel (0, 0) is 1 go through a quantiser whose derivative
 *   is zero (as `round` is), so APGD-CE, APGD-T and FAB-T get a zero gradient on them and stall,
 *   while Square's random search, which only queries the model, finds the coordinated corner.
 * - Softmax saturation (scale 1000): the cross-entropy's gradient underflows to exactly zero in
 *   float32, so APGD-CE stalls, while FAB-T, which linearises z_t - z_y (scale-free), finds the
 *   boundary at L∞ distance (p - 0.3) · 63 / 63 < eps.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { autoAttackCustom, type StageConfig } from '../../src/attacks/autoattack.js';
import { apgdCe, apgdT } from '../../src/attacks/apgd.js';
import { ensureGradients } from '../../src/gradients.js';
import { hashFloat } from '../reference64.js';

ensureGradients();
await tf.setBackend('cpu');

const H = 8;
const PIXELS = H * H;
const EPS = 0.1;

/**
 * Identity on unmarked images; on marked ones (pixel (0,0) > 0.5) a 1/256 quantiser whose gradient
 * is zero, like tf.round's. The mask is computed in the forward pass, off the gradient tape.
 */
const maskedQuantiser = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const x = args[0] as tf.Tensor4D;
  const save = args[1] as tf.GradSaveFunc;
  const n = x.shape[0];
  const marked = tf.cast(tf.greater(tf.slice(x, [0, 0, 0, 0], [n, 1, 1, 1]), 0.5), 'float32');
  save([marked]);
  const quantised = tf.div(tf.round(tf.mul(x, 256)), 256);
  return {
    value: tf.add(tf.mul(marked, quantised), tf.mul(tf.sub(1, marked), x)),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, tf.sub(1, saved[0]!)),
  };
});

/** Logits [N, 4]: z_0 = 0, z_1 = scale (18.9 - sum of the non-marker pixels), z_2 = -50 scale, z_3 = -60 scale. */
function linearModel(scale: number): (x: tf.Tensor4D) => tf.Tensor2D {
  const weights = Float32Array.from({ length: PIXELS }, (_, i) => (i === 0 ? 0 : -1));
  return (x) =>
    tf.tidy(() => {
      const q = maskedQuantiser(x) as tf.Tensor4D;
      const s = tf.matMul(tf.reshape(q, [x.shape[0], PIXELS]), tf.tensor2d(weights, [PIXELS, 1]));
      const z1 = tf.mul(tf.add(s, 18.9), scale);
      const zeros = tf.zerosLike(z1);
      return tf.concat([zeros, z1, tf.add(zeros, -50 * scale), tf.add(zeros, -60 * scale)], 1) as tf.Tensor2D;
    });
}

/** Images of constant level p (small hashed texture, mean ~0), marker pixel set to 1 when `marked`. */
function images(levels: number[], marked: boolean[]): tf.Tensor4D {
  const v = new Float32Array(levels.length * PIXELS);
  levels.forEach((p, n) => {
    for (let i = 0; i < PIXELS; i++) v[n * PIXELS + i] = i === 0 ? (marked[n] ? 1 : 0) : p + 0.01 * hashFloat(n * PIXELS + i, 71);
  });
  return tf.tensor4d(v, [levels.length, H, H, 1]);
}

const STANDARD_ORDER: StageConfig[] = [
  { attack: 'apgd-ce', options: { nIter: 20 } },
  { attack: 'apgd-t', options: { nIter: 20, nTargetClasses: 3 } },
  { attack: 'fab-t', options: { nIter: 20, nTargetClasses: 3 } },
  { attack: 'square', options: { nQueries: 600 } },
];

/** Indices of the fooled points. */
const fooledSet = (success: readonly boolean[]): number[] => success.flatMap((s, i) => (s ? [i] : []));

test('AutoAttack (APGD-CE, APGD-T, FAB-T, Square): on gradient-masked points APGD stalls and Square changes the outcome', () => {
  // A: open gradient, margin 1.9 < 6.3 (APGD's job); B: masked gradient, margin 3.2 < 6.3 (only
  // a query attack can find it); C: margin 9.5 > 6.3, robust against any attack.
  const levels = [0.33, 0.33, 0.33, 0.35, 0.35, 0.35, 0.45, 0.45];
  const marked = [false, false, false, true, true, true, false, true];
  const x = images(levels, marked);
  const y = tf.tensor1d(new Int32Array(levels.length), 'int32');
  const model = linearModel(1);
  const before = tf.memory().numTensors;
  const report = autoAttackCustom(STANDARD_ORDER, { eps: EPS }).evaluate(model, x, y, 0);
  assert.equal(tf.memory().numTensors, before + 1, 'only xAdv may survive');
  const acc = report.stages.map((s) => s.robustAccuracy);
  const fooled = report.stages.map((s) => s.newlyFooled);
  assert.equal(report.cleanAccuracy, 1);
  assert.deepEqual(report.stages.map((s) => s.name), ['apgd-ce', 'apgd-t', 'fab-t', 'square']);
  assert.deepEqual(fooled, [3, 0, 0, 3], `points fooled per stage (robust accuracy after each: ${acc.join(', ')})`);
  assert.deepEqual(acc, [5 / 8, 5 / 8, 5 / 8, 2 / 8], 'robust accuracy must drop at APGD-CE (open points) and again at Square (masked points)');
  assert.deepEqual(fooledSet(report.success), [0, 1, 2, 3, 4, 5], 'final success set');

  // APGD alone (both losses) fools only the open points: the final success set differs from APGD's.
  const apgdOnly = new Set<number>();
  for (const attack of [apgdCe({ eps: EPS, nIter: 20 }), apgdT({ eps: EPS, nIter: 20, nTargetClasses: 3 })]) {
    const r = attack.run(model, x, y, 0);
    fooledSet(r.success).forEach((i) => apgdOnly.add(i));
    r.xAdv.dispose();
  }
  assert.deepEqual([...apgdOnly].sort(), [0, 1, 2], "APGD's own success set");
  // The returned images really are misclassified, inside the ball and the box.
  const check = tf.tidy(() => {
    const wrong = tf.notEqual(tf.argMax(model(report.xAdv), 1), y).dataSync();
    const linf = tf.max(tf.abs(tf.sub(report.xAdv, x))).dataSync()[0]!;
    return { wrong: Array.from(wrong, (v) => v !== 0), linf };
  });
  assert.deepEqual(check.wrong, report.success);
  assert.ok(check.linf <= EPS + 1e-6, `L∞ ${check.linf}`);
  tf.dispose([report.xAdv, x, y]);
});

test('AutoAttack (APGD-CE, FAB-T, Square): on softmax-saturated logits APGD-CE stalls and FAB-T changes the outcome', () => {
  // Scale 1000: every clean CE gradient underflows to 0. Margins (before scaling) 1.9 and 3.8 are
  // within reach (6.3); 9.5 is not.
  const levels = [0.33, 0.36, 0.36, 0.45];
  const x = images(levels, levels.map(() => false));
  const y = tf.tensor1d(new Int32Array(levels.length), 'int32');
  const model = linearModel(1000);
  const gradNorm = tf.tidy(() => tf.max(tf.abs(tf.grad((xi: tf.Tensor) => tf.losses.softmaxCrossEntropy(tf.oneHot(y, 4), model(xi as tf.Tensor4D)))(x))).dataSync()[0]!);
  assert.equal(gradNorm, 0, 'the fixture must saturate the cross-entropy gradient');
  const stages: StageConfig[] = [
    { attack: 'apgd-ce', options: { nIter: 20 } },
    { attack: 'fab-t', options: { nIter: 20, nTargetClasses: 3 } },
    { attack: 'square', options: { nQueries: 400 } },
  ];
  const before = tf.memory().numTensors;
  const report = autoAttackCustom(stages, { eps: EPS }).evaluate(model, x, y, 0);
  assert.equal(tf.memory().numTensors, before + 1, 'only xAdv may survive');
  const acc = report.stages.map((s) => s.robustAccuracy);
  assert.deepEqual(report.stages.map((s) => s.newlyFooled), [0, 3, 0], `points fooled per stage (robust accuracy after each: ${acc.join(', ')})`);
  assert.deepEqual(acc, [1, 1 / 4, 1 / 4], 'robust accuracy must stay at 1 after APGD-CE and drop at FAB-T');
  assert.deepEqual(fooledSet(report.success), [0, 1, 2]);
  const alone = apgdCe({ eps: EPS, nIter: 20 }).run(model, x, y, 0);
  assert.deepEqual(fooledSet(alone.success), [], 'APGD-CE alone fools nothing here');
  alone.xAdv.dispose();
  tf.dispose([report.xAdv, x, y]);
});
