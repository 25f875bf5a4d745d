/**
 * Archived adversarial examples: `jatp eval --save-examples <dir>` keeps, per attack and batch, the
 * natural images, x_adv and clip01(P(x_adv)) with the test indices, labels and outcomes as a
 * safetensors file (written as each batch finishes, before the state records it, so a resumed run
 * keeps a complete archive), plus a PNG contact sheet per attack. `jatp eval --from-examples <dir>`
 * scores those x_adv against another model or pre-processor: transfer and oblivious evaluation
 * (the paper's Obl threat model, spec §5.6, is x_adv made against the classifier alone, scored on
 * P + classifier).
 *
 * Layout: <dir>/manifest.json, <dir>/<attack>/batch-00000.safetensors ..., <dir>/<attack>/contact.png.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { PNG } from 'pngjs';
import { asFloat32, decodeSafetensors, encodeSafetensors, type SafeFile, type TensorToWrite } from '../io/safetensors.js';
import type { BallNorm } from '../attacks/ball-and-losses.js';
import { writeFileAtomicSync } from '../io/atomic-write.js';
import type { AttackBatch, AttackEvaluation, EvaluatedModel, EvaluationReport } from './evaluate.js';

/** The `format` of a saved-examples folder's manifest.json. */
export const EXAMPLES_FORMAT = 'jatp-examples';

/** A saved-examples folder's manifest.json (`jatp eval --save-examples`): attacks, eps, norm, n, batch size, EOT draws, source. */
export interface ExamplesManifest {
  readonly format: typeof EXAMPLES_FORMAT;
  readonly attacks: readonly string[];
  readonly eps: number;
  readonly norm: BallNorm;
  readonly n: number;
  readonly batchSize: number;
  /** EOT draws the attacks that made them used; absent: 1. */
  readonly eot?: number;
  /** Who made them: the model and pre-processor the attacks were run against. */
  readonly source: Readonly<Record<string, unknown>>;
}

/** A folder name for an attack label ('pgd40 (bpda)' -> 'pgd40-bpda'). */
export function attackFolder(label: string): string {
  return label.replace(/[^a-zA-Z0-9_.-]+/g, '-').replace(/-+$/, '');
}

function batchFile(dir: string, attack: string, batch: number): string {
  return path.join(dir, attackFolder(attack), `batch-${String(batch).padStart(5, '0')}.safetensors`);
}

function hostTensor(t: tf.Tensor): TensorToWrite {
  return { shape: t.shape, data: Float32Array.from(t.dataSync()) };
}

/** Refuses an examples folder that is a file, or one holding another evaluation's examples. */
export function prepareExamplesDir(dir: string, manifest: ExamplesManifest, flag = '--save-examples'): void {
  if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory()) throw new Error(`${flag}: '${dir}' is a file; expected a folder for the examples`);
  const file = path.join(dir, 'manifest.json');
  if (fs.existsSync(file)) {
    const old = readManifest(dir, flag);
    const same = JSON.stringify({ ...old, source: undefined }) === JSON.stringify({ ...manifest, source: undefined });
    if (!same || JSON.stringify(old.source) !== JSON.stringify(manifest.source)) {
      throw new Error(`${flag}: '${dir}' already holds examples of another evaluation (${file}); choose an empty folder`);
    }
    return;
  }
  fs.mkdirSync(dir, { recursive: true });
  writeFileAtomicSync(file, `${JSON.stringify(manifest, null, 1)}\n`);
}

/** The `onAttackBatch` callback that archives each finished batch. */
export function examplesWriter(dir: string, manifest: ExamplesManifest): (batch: AttackBatch) => void {
  return (b) => {
    const tensors = new Map<string, TensorToWrite>([
      ['x', hostTensor(b.x)],
      ['x_adv', hostTensor(b.xAdv)],
      ['indices', { shape: [b.indices.length], data: Int32Array.from(b.indices) }],
      ['labels', { shape: [b.indices.length], data: Int32Array.from(b.y.dataSync()) }],
      ['robust', { shape: [b.indices.length], data: Int32Array.from(b.robust, (r) => (r ? 1 : 0)) }],
    ]);
    if (b.purified) tensors.set('purified', hostTensor(b.purified));
    const metadata = { attack: b.attack, batch: String(b.batch), eps: String(manifest.eps), norm: manifest.norm };
    const file = batchFile(dir, b.attack, b.batch);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    writeFileAtomicSync(file, encodeSafetensors(tensors, metadata));
  };
}

/** Reads and checks a saved-examples folder's manifest.json; `flag` (default '--from-examples') names the folder in errors. */
export function readManifest(dir: string, flag = '--from-examples'): ExamplesManifest {
  const file = path.join(dir, 'manifest.json');
  if (!fs.existsSync(file)) throw new Error(`${flag}: '${dir}' has no manifest.json (expected a folder written by 'jatp eval --save-examples')`);
  let m: Partial<ExamplesManifest>;
  try {
    m = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<ExamplesManifest>;
  } catch (err) {
    throw new Error(`${flag}: '${file}' is not valid JSON (${(err as Error).message})`);
  }
  if (m.format !== EXAMPLES_FORMAT || !Array.isArray(m.attacks) || typeof m.n !== 'number' || typeof m.batchSize !== 'number') {
    throw new Error(`${flag}: '${file}' is not a jatp examples manifest (expected "format": "${EXAMPLES_FORMAT}", "attacks", "n", "batchSize")`);
  }
  return m as ExamplesManifest;
}

interface SavedBatch {
  readonly x: Float32Array;
  readonly xAdv: Float32Array;
  readonly purified?: Float32Array;
  readonly shape: number[];
  readonly indices: Int32Array;
  readonly labels: Int32Array;
  readonly robust: Int32Array;
}

function int32(file: SafeFile, name: string, source: string): Int32Array {
  const t = file.tensors.get(name);
  if (!t || t.dtype !== 'I32') throw new Error(`${source}: tensor '${name}' missing or not I32 (damaged examples file)`);
  return new Int32Array(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength / 4);
}

export function readSavedBatch(file: string): SavedBatch {
  const safe = decodeSafetensors(fs.readFileSync(file), file);
  const tensor = (name: string): Float32Array => {
    const t = safe.tensors.get(name);
    if (!t) throw new Error(`${file}: tensor '${name}' missing (damaged examples file)`);
    return asFloat32(t, name, file);
  };
  const xAdvInfo = safe.tensors.get('x_adv');
  if (!xAdvInfo || xAdvInfo.shape.length !== 4) throw new Error(`${file}: tensor 'x_adv' missing or not 4-D (damaged examples file)`);
  const batch: SavedBatch = {
    x: tensor('x'),
    xAdv: tensor('x_adv'),
    purified: safe.tensors.has('purified') ? tensor('purified') : undefined,
    shape: [...xAdvInfo.shape],
    indices: int32(safe, 'indices', file),
    labels: int32(safe, 'labels', file),
    robust: int32(safe, 'robust', file),
  };
  if (batch.x.length !== batch.xAdv.length || batch.indices.length !== batch.shape[0] || batch.labels.length !== batch.shape[0]) {
    throw new Error(`${file}: tensor shapes disagree (damaged examples file)`);
  }
  return batch;
}

/** The batch files of one attack, in batch order; refuses gaps (an unfinished archive). */
function attackBatches(dir: string, manifest: ExamplesManifest, attack: string): string[] {
  const count = Math.ceil(manifest.n / manifest.batchSize);
  return Array.from({ length: count }, (_, b) => {
    const file = batchFile(dir, attack, b);
    if (!fs.existsSync(file)) throw new Error(`--from-examples: '${file}' is missing (the evaluation that saved these examples did not finish; resume it first)`);
    return file;
  });
}

function correctMask(model: EvaluatedModel, x: tf.Tensor4D, y: tf.Tensor1D): boolean[] {
  const c = tf.tidy(() => tf.equal(tf.cast(tf.argMax(model.logits(x), 1), 'int32'), y));
  const v = Array.from(c.dataSync(), (e) => e === 1);
  c.dispose();
  return v;
}

/**
 * Scores saved examples on `model`: clean accuracy on the saved natural images, and per attack the
 * fraction correct on both x and x_adv (as `evaluate` counts robustness).
 */
export function evaluateExamples(model: EvaluatedModel, dir: string): EvaluationReport & { readonly source: Readonly<Record<string, unknown>> } {
  const manifest = readManifest(dir);
  let clean: boolean[] | undefined;
  let labels: number[] | undefined;
  const attacks: AttackEvaluation[] = manifest.attacks.map((label) => {
    const robust: boolean[] = [];
    const cleanHere: boolean[] = [];
    const labelsHere: number[] = [];
    let l1Adv = 0;
    let l1Purified = 0;
    for (const file of attackBatches(dir, manifest, label)) {
      const saved = readSavedBatch(file);
      const shape = saved.shape as [number, number, number, number];
      const x = tf.tensor4d(saved.x, shape);
      const xAdv = tf.tensor4d(saved.xAdv, shape);
      const y = tf.tensor1d(saved.labels, 'int32');
      const c = correctMask(model, x, y);
      const a = correctMask(model, xAdv, y);
      c.forEach((ok, i) => robust.push(ok && a[i]!));
      cleanHere.push(...c);
      labelsHere.push(...saved.labels);
      const m = tf.tidy(() => tf.mul(tf.sum(tf.mean(tf.abs(tf.sub(xAdv, x)), [1, 2, 3])), 255));
      l1Adv += m.dataSync()[0]!;
      if (model.preprocess) {
        const p = tf.tidy(() => tf.mul(tf.sum(tf.mean(tf.abs(tf.sub(model.preprocess!(xAdv), x)), [1, 2, 3])), 255));
        l1Purified += p.dataSync()[0]!;
        p.dispose();
      }
      tf.dispose([x, xAdv, y, m]);
    }
    clean ??= cleanHere;
    labels ??= labelsHere;
    return {
      attack: label.replace(/ \(bpda\)$/, ''),
      bpda: label.endsWith(' (bpda)') || /^bpda/i.test(label),
      robustAccuracy: robust.filter(Boolean).length / manifest.n,
      robust,
      meanL1AdvVsNatural: l1Adv / manifest.n,
      meanL1PurifiedVsNatural: model.preprocess ? l1Purified / manifest.n : undefined,
      seconds: 0,
    };
  });
  const c = clean ?? [];
  const union = c.map((ok, i) => ok && attacks.every((a) => a.robust[i]!));
  return {
    n: manifest.n,
    eps: manifest.eps,
    norm: manifest.norm,
    cleanAccuracy: c.filter(Boolean).length / manifest.n,
    clean: c,
    labels: labels ?? [],
    attacks,
    unionRobustAccuracy: union.filter(Boolean).length / manifest.n,
    randomized: false,
    decisionPasses: 1,
    eotDraws: manifest.eot ?? 1,
    forwardPasses: 0,
    source: manifest.source,
  };
}

/** A PNG per attack: up to `count` examples as columns, rows x / x_adv / clip01(P(x_adv)), 2x scale. */
export function writeContactSheets(dir: string, count = 8): string[] {
  const manifest = readManifest(dir, '--save-examples');
  const written: string[] = [];
  for (const attack of manifest.attacks) {
    const first = batchFile(dir, attack, 0);
    if (!fs.existsSync(first)) continue;
    const saved = readSavedBatch(first);
    const [n, h, w, ch] = saved.shape as [number, number, number, number];
    const cols = Math.min(count, n);
    const rows = [saved.x, saved.xAdv, ...(saved.purified ? [saved.purified] : [])];
    const scale = 2;
    const gap = 2;
    const png = new PNG({ width: cols * (w * scale + gap) + gap, height: rows.length * (h * scale + gap) + gap });
    png.data.fill(255);
    rows.forEach((images, r) => {
      for (let c = 0; c < cols; c++) {
        for (let yy = 0; yy < h * scale; yy++) {
          for (let xx = 0; xx < w * scale; xx++) {
            const src = ((c * h + Math.floor(yy / scale)) * w + Math.floor(xx / scale)) * ch;
            const px = gap + c * (w * scale + gap) + xx;
            const py = gap + r * (h * scale + gap) + yy;
            const dst = (py * png.width + px) * 4;
            for (let k = 0; k < 3; k++) png.data[dst + k] = Math.round(255 * Math.min(1, Math.max(0, images[src + (ch === 3 ? k : 0)]!)));
            png.data[dst + 3] = 255;
          }
        }
      }
    });
    const file = path.join(dir, attackFolder(attack), 'contact.png');
    writeFileAtomicSync(file, PNG.sync.write(png));
    written.push(file);
  }
  return written;
}
