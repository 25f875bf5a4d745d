/**
 * The program the packed-tarball test (pack.test.ts) compiles and runs inside an empty project where
 * only the `jatp` and `tfjs-backend-torch` tarballs are installed: it uses nothing but the public API,
 * through the package's named subpaths (`jatp/attacks`, `jatp/models`, `jatp/defenses`).
 * argv[2]: a run folder holding a pre-processor; argv[3]: a JSON file with the classifier's weights.
 * Prints one JSON line with what it computed.
 */
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import 'tfjs-backend-torch';
import { apgdCe, autoAttack, type AttackResult, type AutoAttackReport } from 'jatp/attacks';
import { jatpWeights } from 'jatp/models';
import { loadPreprocessor } from 'jatp/defenses';

const [runDir, weightsJson] = [process.argv[2]!, process.argv[3]!];
const spec = JSON.parse(readFileSync(weightsJson, 'utf8')) as { kernel: number[]; bias: number[]; x: number[]; y: number[]; eps: number };

// 1. A plain tf.sequential classifier, attacked on the cpu backend.
await tf.setBackend('cpu');
const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [8, 8, 1] }), tf.layers.dense({ units: 4 })] });
model.layers[1]!.setWeights([tf.tensor2d(spec.kernel, [64, 4]), tf.tensor1d(spec.bias)]);
const x = tf.tensor4d(spec.x, [spec.y.length, 8, 8, 1]);
const y = tf.tensor1d(spec.y, 'int32');
const apgd: AttackResult = apgdCe({ eps: spec.eps, nIter: 20 }).run(model, x, y, { seed: 1 });
const aa: AutoAttackReport = autoAttack({ eps: spec.eps }).run(model, x, y, 1);
const maxDelta = tf.tidy(() => tf.max(tf.abs(tf.sub(aa.xAdv, x))).dataSync()[0]!);

// 2. A pre-processor from a run folder, on the torch engine (two ways: our loader and tf.loadLayersModel).
await tf.setBackend('torch');
const purifier = await loadPreprocessor(runDir);
const layers = await tf.loadLayersModel(jatpWeights(runDir));
const xt = tf.tensor4d(spec.x.slice(0, 2 * 64), [2, 8, 8, 1]);
const purified = purifier.apply(xt, false);
const viaHandler = layers.predict(xt) as tf.Tensor;

console.log(JSON.stringify({
  backend: tf.getBackend(),
  apgdSuccess: apgd.success,
  aaSuccess: aa.success,
  aaStages: aa.stages.map((s) => [s.name, s.robustAccuracy]),
  aaMaxDelta: maxDelta,
  aaAdv: Array.from(aa.xAdv.dataSync()),
  purifiedShape: purified.shape,
  purified: Array.from(purified.dataSync()),
  handlerVsLoader: tf.tidy(() => tf.max(tf.abs(tf.sub(purified, viaHandler))).dataSync()[0]!),
}));
