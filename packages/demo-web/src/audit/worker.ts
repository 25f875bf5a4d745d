/**
 * The audit worker: loads the user's classifier (and optional pre-processor), checks them against
 * the images, and runs the toolkit's attacks exactly as `jatp eval` does (same batches, same seeds:
 * batch b of attack a uses seed + 1000·a + b; same per-batch records, assembled by the toolkit's
 * `assembleReport`), posting progress after every batch. All tensors live here, so the page's main
 * thread only draws. Cancelling terminates this worker (its synchronous tfjs loop cannot read
 * messages until it finishes), which stops it at once and frees its memory.
 */
import * as tf from '@tensorflow/tfjs';
import { setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import type { AuditJob, BackendName, BenchJob, FallenImage, ModelSource, PageMessage, PixelRange, WorkerMessage } from './protocol.js';
import { BACKENDS, PIXEL_RANGES } from './protocol.js';
import { registerWasmGradients, unfuseConvolutions } from './wasm-gradients.js';
import { assembleReport, attackLabel, batchDistances, batchRanges, buildAttack, correctMask, isRandomized, cliEvalJson, parseAttackSpec, toFloatBatch, type AttackBatchRecord, type AutoAttackReport, type EvaluationState, type Split } from './toolkit.js';

type Logits = (x: tf.Tensor4D) => tf.Tensor2D;

const post = (m: WorkerMessage): void => (self as unknown as { postMessage(m: WorkerMessage): void }).postMessage(m);

/** A message that names what the user gave and what was expected: shown on the page as is. */
class InputError extends Error {}

// ---------------------------------------------------------------------------------------------------
// Backend

async function hasWebGpu(): Promise<boolean> {
  const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  if (!gpu) return false;
  try {
    return (await gpu.requestAdapter()) !== null;
  } catch {
    return false;
  }
}

/** Why the active backend cannot differentiate a biased convolution as tfjs-layers runs it, or undefined. */
function gradientProblem(): string | undefined {
  try {
    tf.tidy(() => {
      const conv = (x: tf.Tensor) => tf.fused.conv2d({ x: x as tf.Tensor4D, filter: tf.ones([2, 2, 1, 1]) as tf.Tensor4D, strides: 1, pad: 'same', bias: tf.zeros([1]) });
      tf.grad((x: tf.Tensor) => tf.sum(conv(x)))(tf.ones([1, 3, 3, 1])).dataSync();
    });
    return undefined;
  } catch (err) {
    return `cannot differentiate a convolution (${(err as Error).message})`;
  }
}

async function startBackend(name: BackendName): Promise<string | undefined> {
  if (name === 'webgpu') {
    if (!(await hasWebGpu())) return 'no WebGPU adapter';
    await import('@tensorflow/tfjs-backend-webgpu');
  }
  if (name === 'wasm') {
    // The binaries are served beside this script (copied from the npm package by the site builder).
    setWasmPaths(new URL('./', self.location.href).href);
    // Threads need SharedArrayBuffer, i.e. a cross-origin-isolated page (COOP/COEP headers).
    if (self.crossOriginIsolated) setThreadsCount(Math.max(1, navigator.hardwareConcurrency || 1));
    registerWasmGradients();
  }
  if (!(await tf.setBackend(name))) return 'could not start';
  await tf.ready();
  return gradientProblem();
}

async function backendDetail(name: string): Promise<string> {
  if (name !== 'wasm') return name;
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const threads = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
  return `wasm (SIMD ${simd ? 'on' : 'off'}, threads ${threads && self.crossOriginIsolated ? `on, ${navigator.hardwareConcurrency || 1}` : 'off'})`;
}

async function pickBackend(wanted: AuditJob['backend']): Promise<void> {
  const order: readonly BackendName[] = wanted === 'auto' ? BACKENDS : [wanted];
  const tried: string[] = [];
  for (const name of order) {
    try {
      const problem = await startBackend(name);
      if (problem === undefined) {
        post({ type: 'backend', backend: name, detail: await backendDetail(name), tried });
        return;
      }
      tried.push(`${name}: ${problem}`);
    } catch (err) {
      tried.push(`${name}: ${(err as Error).message}`);
    }
  }
  throw new InputError(`no tfjs backend could run the attacks (${tried.join('; ')})`);
}

// ---------------------------------------------------------------------------------------------------
// Models

interface Loaded {
  readonly predict: (x: tf.Tensor) => tf.Tensor;
  readonly inputShape: readonly (number | null)[];
  readonly outputShape: readonly (number | null)[];
}

function describeSource(s: ModelSource): string {
  return s.kind === 'url' ? s.url : s.files.map((f) => f.name).join(', ');
}

async function loadModel(source: ModelSource, what: string): Promise<Loaded> {
  let handler: string | tf.io.IOHandler;
  let format: string | undefined;
  let diagnose = async (): Promise<string | undefined> => undefined;
  if (source.kind === 'url') {
    const url = new URL(source.url, self.location.href).href;
    let json: { format?: string; modelTopology?: unknown; weightsManifest?: { paths: string[] }[] };
    try {
      const res = await fetch(url);
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      json = (await res.json()) as typeof json;
    } catch (err) {
      throw new InputError(`the ${what} model.json at ${source.url} could not be loaded (${(err as Error).message}); expected the URL of a tfjs model.json`);
    }
    if (json.modelTopology === undefined) throw new InputError(`the ${what} at ${source.url} is not a tfjs model.json (it has no "modelTopology")`);
    format = json.format;
    handler = url;
    // Which shard is missing, asked only when the load fails (tfjs' own message blames the model.json).
    diagnose = async () => {
      for (const p of (json.weightsManifest ?? []).flatMap((g) => g.paths)) {
        const shard = new URL(p, url).href;
        const res = await fetch(shard).catch(() => undefined);
        if (!res || !res.ok) return `the ${what}'s weight shard '${p}' (named in ${source.url}) is missing: ${shard} answered ${res ? `HTTP ${res.status}` : 'nothing'}`;
      }
      return undefined;
    };
  } else {
    const jsons = source.files.filter((f) => f.name.endsWith('.json'));
    if (jsons.length !== 1) throw new InputError(`the ${what} files must hold exactly one model.json (got ${jsons.length} .json among: ${describeSource(source)})`);
    let json: { format?: string; modelTopology?: unknown; weightsManifest?: { paths: string[] }[] };
    try {
      json = JSON.parse(await jsons[0]!.text()) as typeof json;
    } catch (err) {
      throw new InputError(`the ${what} file '${jsons[0]!.name}' is not valid JSON (${(err as Error).message})`);
    }
    if (json.modelTopology === undefined) throw new InputError(`the ${what} file '${jsons[0]!.name}' is not a tfjs model.json (it has no "modelTopology")`);
    const given = new Set(source.files.map((f) => f.name));
    const missing = (json.weightsManifest ?? []).flatMap((g) => g.paths).filter((p) => !given.has(p.split('/').pop()!));
    if (missing.length > 0) throw new InputError(`the ${what}'s weight shard${missing.length > 1 ? 's' : ''} ${missing.map((m) => `'${m}'`).join(', ')} (named in ${jsons[0]!.name}) ${missing.length > 1 ? 'are' : 'is'} missing: drop the model.json together with all its .bin files`);
    format = json.format;
    handler = tf.io.browserFiles([jsons[0]!, ...source.files.filter((f) => f !== jsons[0])]);
  }
  try {
    if (format === 'graph-model') {
      const m = await tf.loadGraphModel(handler);
      const input = m.inputs[0]!;
      const output = m.outputs[0]!;
      return { predict: (x) => m.predict(x) as tf.Tensor, inputShape: input.shape ?? [], outputShape: output.shape ?? [] };
    }
    const m = await tf.loadLayersModel(handler);
    unfuseConvolutions(m);
    // predict() runs layers in inference mode (batch-norm running statistics), as the toolkit's
    // Network.apply(x, false) and `jatp eval` on a tfjs model do; it is differentiable.
    return { predict: (x) => m.predict(x) as tf.Tensor, inputShape: m.inputs[0]!.shape, outputShape: m.outputs[0]!.shape };
  } catch (err) {
    const known = await diagnose();
    throw new InputError(known ?? `the ${what} (${describeSource(source)}) could not be loaded: ${(err as Error).message}`);
  }
}

function shapeText(s: readonly (number | null)[]): string {
  return s.map((d) => (d === null || d === -1 ? '?' : String(d))).join('×');
}

function checkImageShape(model: Loaded, what: string, shape: readonly number[]): void {
  const got = model.inputShape.slice(1);
  const fits = got.length === 3 && got.every((d, i) => d === null || d === -1 || d === shape[i]);
  if (!fits) throw new InputError(`the ${what} takes ${shapeText(got)} images, but the test images are ${shape.join('×')}: pick images of the model's size (or the model for these images)`);
}

function scaleFor(range: PixelRange): { scale: number; offset: number } {
  return range === '0-255' ? { scale: 255, offset: 0 } : range === '-1-1' ? { scale: 2, offset: -1 } : { scale: 1, offset: 0 };
}

/** x in [0, 1] -> logits of T(clip01(P(x))) (or T(x)), T fed in its pixel range. */
function pipeline(classifier: Loaded, pre: Loaded | undefined, range: PixelRange): Logits {
  const { scale, offset } = scaleFor(range);
  return (x) =>
    tf.tidy(() => {
      const purified = pre ? tf.clipByValue(pre.predict(x), 0, 1) : x;
      const input = scale === 1 && offset === 0 ? purified : tf.add(tf.mul(purified, scale), offset);
      return classifier.predict(input) as tf.Tensor2D;
    });
}

// ---------------------------------------------------------------------------------------------------
// The evaluation, batch by batch as the toolkit's `evaluate` runs it

function predictions(model: Logits, x: tf.Tensor4D): Int32Array {
  const p = tf.tidy(() => tf.cast(tf.argMax(model(x), 1), 'int32'));
  const v = p.dataSync() as Int32Array;
  p.dispose();
  return v;
}

/** sha256 of the images, labels and shape, byte for byte as the toolkit's state key computes it. */
async function splitFingerprint(split: Split): Promise<string> {
  const head = new TextEncoder().encode(JSON.stringify({ count: split.count, shape: split.imageShape ?? null }));
  const labels = new Uint8Array(split.labels.buffer, split.labels.byteOffset, split.count * 4);
  const all = new Uint8Array(head.length + split.images.length + labels.length);
  all.set(head, 0);
  all.set(split.images, head.length);
  all.set(labels, head.length + split.images.length);
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', all));
  return `sha256:${Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/** When the chosen pixel range is clearly wrong: another range classifies far more images correctly. */
function checkPixelRange(classifier: Loaded, job: AuditJob, split: Split): void {
  const n = Math.min(split.count, 100);
  const { x, y } = toFloatBatch(split, Array.from({ length: n }, (_, i) => i));
  try {
    const acc = Object.fromEntries(PIXEL_RANGES.map((r) => [r, correctMask(pipeline(classifier, undefined, r), x, y).filter(Boolean).length / n])) as Record<PixelRange, number>;
    const chosen = acc[job.pixelRange];
    const [bestRange, best] = (Object.entries(acc) as [PixelRange, number][]).sort((a, b) => b[1] - a[1])[0]!;
    const chance = 1 / Math.max(2, job.classNames.length);
    if (bestRange !== job.pixelRange && best >= chance + 0.2 && best - chosen >= 0.25) {
      throw new InputError(
        `pixel range mismatch: with pixels in ${job.pixelRange} the classifier gets ${(100 * chosen).toFixed(0)}% of the first ${n} images right, ` +
          `with ${bestRange} ${(100 * best).toFixed(0)}%: choose the pixel range ${bestRange} (the range its input layer expects)`,
      );
    }
  } finally {
    tf.dispose([x, y]);
  }
}

const FALLEN_LIMIT = 48;

async function run(job: AuditJob): Promise<void> {
  await pickBackend(job.backend);
  const classifier = await loadModel(job.classifier, 'classifier');
  checkImageShape(classifier, 'classifier', job.imageShape);
  const preprocessor = job.preprocessor ? await loadModel(job.preprocessor, 'pre-processor') : undefined;
  if (preprocessor) checkImageShape(preprocessor, 'pre-processor', job.imageShape);
  const classes = classifier.outputShape[classifier.outputShape.length - 1];
  if (classifier.outputShape.length !== 2 || classes !== job.classNames.length) {
    throw new InputError(`the classifier outputs ${shapeText(classifier.outputShape.slice(1))} values per image, but the test images have ${job.classNames.length} classes (${job.classNames.slice(0, 4).join(', ')}, …)`);
  }
  const specs = job.attacks.map((a) => {
    try {
      return parseAttackSpec(a);
    } catch (err) {
      throw new InputError((err as Error).message);
    }
  });
  const split: Split = { images: job.images, labels: job.labels, count: job.labels.length, imageShape: job.imageShape };
  checkPixelRange(classifier, job, split);
  const model = pipeline(classifier, preprocessor, job.pixelRange);
  const purify = preprocessor ? (x: tf.Tensor4D) => tf.clipByValue(preprocessor.predict(x), 0, 1) as tf.Tensor4D : undefined;
  const counted = { images: 0 };
  const counting: Logits = (x) => {
    counted.images += x.shape[0];
    return model(x);
  };

  const batchSize = Math.max(1, job.batchSize);
  const state: EvaluationState = {
    format: 'jatp-eval-state',
    version: 1,
    key: {
      identity: { model: `tfjs ${job.describe.model} pixels ${job.pixelRange}`, ...(job.describe.preprocessor ? { preprocessor: job.describe.preprocessor } : {}) },
      data: await splitFingerprint(split),
      n: split.count,
      batchSize,
      seed: job.seed,
      eps: job.eps,
      norm: job.norm,
      attacks: specs.map(attackLabel),
      repeat: 1,
      eot: 1,
    },
    clean: {},
    attacks: specs.map(() => ({})),
  };
  const batches = batchRanges(split.count, batchSize);
  const started = performance.now();
  let done = 0;
  batches.forEach((indices, b) => {
    const { x, y } = toFloatBatch(split, indices);
    if (state.randomized === undefined) state.randomized = isRandomized(model, x);
    state.clean[b] = { correct: correctMask(model, x, y), labels: indices.map((i) => split.labels[i]!) };
    tf.dispose([x, y]);
    done += indices.length;
    post({ type: 'progress', stage: 'clean', done, total: split.count, elapsedMs: performance.now() - started });
  });

  const fallen: FallenImage[] = [];
  const warnings: string[] = [];
  if (state.randomized) warnings.push('the model gave different outputs for the same input (randomized): each decision here is one forward pass; use `jatp eval --repeat k --eot m` for a worst-case evaluation');
  specs.forEach((spec, a) => {
    const label = attackLabel(spec);
    if (spec.bpda) throw new InputError(`'${spec.text}': BPDA needs the toolkit's own pre-processor networks; run it with jatp eval`);
    const attack = buildAttack(spec, { eps: job.eps, norm: job.norm });
    const stageStart = performance.now();
    let seen = 0;
    post({ type: 'progress', stage: label, done: 0, total: split.count, elapsedMs: 0 });
    batches.forEach((indices, b) => {
      const t0 = Date.now();
      counted.images = 0;
      const { x, y } = toFloatBatch(split, indices);
      const result = attack.run(counting, x, y, job.seed + 1000 * a + b);
      const forwarded = counted.images;
      const still = correctMask(model, result.xAdv, y);
      const clean = state.clean[b]!.correct;
      const purified = purify ? tf.tidy(() => purify(result.xAdv)) : undefined;
      const distances = batchDistances(result.xAdv, x, purified);
      const robust = indices.map((_, i) => clean[i]! && still[i]!);
      const report = result as Partial<AutoAttackReport>;
      const record: AttackBatchRecord = {
        robust,
        ...distances,
        stageNames: report.stages?.map((s) => s.name),
        stageCorrect: report.stages?.map((s) => Math.round(s.robustAccuracy * indices.length)),
        seconds: (Date.now() - t0) / 1000,
        forwarded,
      };
      state.attacks[a]![b] = record;
      // The images this attack fooled that the model had right: kept for the page's grid.
      const fell = indices.map((_, i) => i).filter((i) => clean[i]! && !still[i]!);
      if (fell.length > 0 && fallen.length < FALLEN_LIMIT) {
        const pred = predictions(model, result.xAdv);
        const pixels = tf.tidy(() => tf.cast(tf.round(tf.mul(tf.clipByValue(result.xAdv, 0, 1), 255)), 'int32')).dataSync();
        const size = job.imageShape[0] * job.imageShape[1] * job.imageShape[2];
        for (const i of fell) {
          if (fallen.length >= FALLEN_LIMIT) break;
          fallen.push({ index: indices[i]!, label: split.labels[indices[i]!]!, attack: label, predicted: pred[i]!, adversarial: Uint8Array.from(pixels.subarray(i * size, (i + 1) * size)) });
        }
      }
      purified?.dispose();
      tf.dispose([result.xAdv, x, y]);
      seen += indices.length;
      post({ type: 'progress', stage: label, done: seen, total: split.count, elapsedMs: performance.now() - stageStart });
    });
  });
  const report = assembleReport(state);
  // The document `jatp eval --json` writes, made by the toolkit's own eval-JSON writer.
  const payload = cliEvalJson(
    report,
    { describe: { model: job.describe.model, ...(job.describe.preprocessor ? { preprocessor: job.describe.preprocessor } : {}), dataset: job.dataset }, backend: tf.getBackend(), attacksRequested: job.attacks.join(',') },
    state.key.identity,
  );
  post({ type: 'done', payload: JSON.parse(JSON.stringify(payload)) as Record<string, unknown>, state: JSON.parse(JSON.stringify(state)) as Record<string, unknown>, fallen, warnings });
}

/**
 * Milliseconds per step of the toolkit's PGD through the model, per batch size: one untimed
 * step first (kernels compile / warm up), then repeats of k steps, k chosen so a repeat takes
 * about a second (2 to 10 steps), as many repeats (1 to 5) as the time budget allows.
 */
async function bench(job: BenchJob): Promise<void> {
  await pickBackend(job.backend);
  const detail = await backendDetail(tf.getBackend());
  const classifier = await loadModel({ kind: 'url', url: job.classifierUrl }, 'classifier');
  const pre = job.preprocessorUrl ? await loadModel({ kind: 'url', url: job.preprocessorUrl }, 'pre-processor') : undefined;
  const model = pipeline(classifier, pre, '0-1');
  const eps = 0.1;
  let msPerImage = 0;
  for (const batch of job.batchSizes) {
    // A batch whose step would take minutes (the cpu backend at batch 32) is left out, said so.
    if (msPerImage * batch > job.budgetMs * 4) {
      post({ type: 'bench', backend: tf.getBackend(), detail, batch, msPerStep: [], steps: 0 });
      continue;
    }
    const x = tf.randomUniform([batch, ...job.imageShape], 0, 1, 'float32', 7) as tf.Tensor4D;
    const y = tf.zeros([batch], 'int32') as tf.Tensor1D;
    const timeSteps = (steps: number): number => {
      const attack = buildAttack(parseAttackSpec(`pgd${steps}`), { eps, norm: 'Linf' });
      const t0 = performance.now();
      const r = attack.run(model, x, y, 0);
      r.xAdv.dataSync();
      const ms = performance.now() - t0;
      tf.dispose(r.xAdv);
      return ms;
    };
    const first = timeSteps(1);
    const steps = Math.max(2, Math.min(10, Math.round(1000 / Math.max(1, first))));
    const msPerStep: number[] = [];
    const started = performance.now();
    while (msPerStep.length < 5 && (msPerStep.length === 0 || performance.now() - started < job.budgetMs)) msPerStep.push(timeSteps(steps) / steps);
    tf.dispose([x, y]);
    msPerImage = Math.min(...msPerStep) / batch;
    post({ type: 'bench', backend: tf.getBackend(), detail, batch, msPerStep, steps });
  }
  post({ type: 'bench-done' });
}

self.onmessage = (e: MessageEvent<PageMessage>) => {
  if (e.data.type === 'bench') {
    bench(e.data.job).catch((err: unknown) => post({ type: 'error', message: (err as Error).message ?? String(err) }));
    return;
  }
  if (e.data.type !== 'run') return;
  run(e.data.job).catch((err: unknown) => {
    const message = err instanceof InputError ? err.message : `the audit failed: ${(err as Error).message ?? String(err)}`;
    post({ type: 'error', message });
  });
};
