/**
 * Attack benchmark (`npm run bench:attacks`): kernel calls the engine dispatches per attack
 * iteration, and PGD-40, APGD-CE and AutoAttack standard against the reference AutoAttack in
 * PyTorch on the same weights and images, for two models (--model cnn|full|both):
 *
 * (a) cnn: the speed issue's small CNN on Fashion-MNIST, eps --eps (bench/attacks-small-cnn.ts),
 *     adversarially trained with the toolkit's TRADES recipe at the cpu preset (--trades-epochs,
 *     cached in --cache), so that about half the points survive AutoAttack and its later stages
 *     work; kernel counts also for the toolkit's ResNet-18 at 32x32x3.
 * (b) full: the CPU-preset full model T(clip01(P(x))) (JATP purifier nf 16 / gc 8 / nb 1 + ResNet-18
 *     width 8, inference mode) on 32x32x3 JPEG-derived CIFAR-10 test images, eps 8/255
 *     (bench/attacks-full-model.ts), trained --full-train-steps Adam steps; or, with --full-runs
 *     TARGET,PURIFIER, a target and a JATP purifier trained by the toolkit's recipes, loaded from
 *     their run folders, on the test images and eps of the dataset the target was trained on.
 *
 * The comparison (dev-only) needs AUTOATTACK_DIR (a checkout of the reference code, github
 * fra31/auto-attack; never vendored here) and a python3 with torch (Debian python3-torch);
 * without them it is skipped with a message. attacks_reference.py rebuilds each model in PyTorch
 * from the safetensors files written here (reference_models.py). Before any timing, the port is
 * proven: both sides' logits (and the purifier's output) on the attacked images must agree to
 * --port-tol, else the bench exits non-zero. Sides are then interleaved (tfjs, PyTorch, tfjs, ...,
 * after a short warm-up of each); each attack reports the median time ratio with its min-max over
 * --pairs pairs and both robust accuracies (a warning when they differ by more than the attacks'
 * random draws explain), with the CPU model and the load average. PyTorch runs
 * with the engine's thread count and OMP_WAIT_POLICY=PASSIVE unless the environment sets a policy
 * (as the engine does).
 *
 * AutoAttack also reports each stage's time (APGD-CE, APGD-T, FAB-T, Square) on both sides. Next to
 * each wall-time ratio the bench prints the ratio of process CPU times (user + system, all
 * threads), which other jobs on a shared machine disturb much less.
 *
 * Flags: --model cnn|full|both (both)  --images N (100)  --pairs N (2)  --skip-aa
 *        --attacks LIST (pgd40,apgd_ce,autoattack_standard: which to time)
 *        --compare-sequential (AutoAttack also with APGD-T's and FAB-T's targets one after another,
 *        the old way, as a third interleaved side: what batching the targets buys)
 *        --eps E (0.1, the CNN; the full model uses 8/255)  --trades-epochs N (3; 0 = the old
 *        naturally trained CNN, --train-steps N (300) SGD steps)  --cache DIR (.cache/bench-attacks)
 *        --full-train-steps N (300)  --full-runs TARGET_RUN,PURIFIER_RUN (part (b) on a trained pair
 *        instead)  --cifar FILE (a CIFAR-10 test_batch.bin; default: found
 *        under shared/data beside the repository)  --port-tol T (1e-5, relative above 1)
 *        --python PATH (/usr/bin/python3)  --json
 * Backend: `initBackend` (torch when its addon loads; JATP_BACKEND to force one).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as tf from '@tensorflow/tfjs-core';
import { kernelStats, provenance, torchStatus } from 'tfjs-backend-torch';

import { initBackend } from '../src/backend.js';
import { apgdCe } from '../src/attacks/apgd.js';
import { STANDARD_STAGES, autoAttack, autoAttackCustom } from '../src/attacks/autoattack.js';
import { Pgd } from '../src/attacks/pgd.js';
import type { Attack } from '../src/attacks/types.js';
import { buildResnet18 } from '../src/models/resnet18.js';
import type { LogitsFn } from '../src/models/types.js';
import { machine, median } from '../../tfjs-backend-torch/bench/interleave.js';
import type { BenchModel } from './attacks-model.js';
import { fullModelBench, runFolderFullModelBench } from './attacks-full-model.js';
import { smallCnnBench } from './attacks-small-cnn.js';
import { positiveIntFlag, stringFlag } from './flags.js';

const args = process.argv.slice(2);
const flagValue = (name: string): string | undefined => stringFlag(args, name);
function positiveNumber(name: string, def: number): number {
  const text = flagValue(name);
  if (text === undefined) return def;
  const v = Number(text);
  if (!(v > 0) || !Number.isFinite(v)) throw new Error(`${name}: expected a positive number, got '${text}'`);
  return v;
}
function nonNegativeInt(name: string, def: number): number {
  const text = flagValue(name);
  if (text === undefined) return def;
  const v = Number(text);
  if (!Number.isInteger(v) || v < 0) throw new Error(`${name}: expected an integer >= 0, got '${text}'`);
  return v;
}
const MODELS = ['cnn', 'full', 'both'] as const;

/** --full-runs TARGET,PURIFIER: two run folders (or weights files), each checked to exist. */
function fullRunsFlag(): { targetRun: string; purifierRun: string } | undefined {
  const text = flagValue('--full-runs');
  if (text === undefined) return undefined;
  const parts = text.split(',');
  if (parts.length !== 2 || parts.some((p) => p === '')) throw new Error(`--full-runs: expected TARGET_RUN,PURIFIER_RUN (two run folders), got '${text}'`);
  for (const p of parts) if (!fs.existsSync(p)) throw new Error(`--full-runs: ${p} does not exist (expected a run folder of train-target / train-defense)`);
  return { targetRun: parts[0]!, purifierRun: parts[1]! };
}

function parseFlags() {
  const model = flagValue('--model') ?? 'both';
  if (!(MODELS as readonly string[]).includes(model)) throw new Error(`--model: expected one of ${MODELS.join(', ')}, got '${model}'`);
  return {
    model,
    images: positiveIntFlag(args, '--images', 100),
    pairs: positiveIntFlag(args, '--pairs', 2),
    cnnEps: positiveNumber('--eps', 0.1),
    trainSteps: positiveIntFlag(args, '--train-steps', 300),
    tradesEpochs: nonNegativeInt('--trades-epochs', 3),
    cache: flagValue('--cache') ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../.cache/bench-attacks'),
    attacks: (flagValue('--attacks') ?? 'pgd40,apgd_ce,autoattack_standard').split(',').map((a) => {
      if (!['pgd40', 'apgd_ce', 'autoattack_standard'].includes(a)) throw new Error(`--attacks: expected pgd40, apgd_ce or autoattack_standard, got '${a}'`);
      return a;
    }),
    fullTrainSteps: nonNegativeInt('--full-train-steps', 300),
    fullRuns: fullRunsFlag(),
    portTol: positiveNumber('--port-tol', 1e-5),
    cifar: flagValue('--cifar'),
    python: flagValue('--python') ?? '/usr/bin/python3',
  };
}
// A bad flag is a one-line message, not a stack trace.
const { model: modelFlag, images, pairs, cnnEps, trainSteps, tradesEpochs, cache, attacks, fullTrainSteps, fullRuns, portTol, cifar, python } = (() => {
  try {
    return parseFlags();
  } catch (err) {
    console.error(`bench/attacks.ts: ${(err as Error).message}`);
    process.exit(1);
  }
})();
const here = path.dirname(fileURLToPath(import.meta.url));
const log = (m: string): void => void process.stderr.write(`${m}\n`);

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

function referenceUnavailable(): string | undefined {
  const dir = process.env.AUTOATTACK_DIR;
  if (!dir) return 'AUTOATTACK_DIR is not set (a checkout of github fra31/auto-attack)';
  if (!fs.existsSync(path.join(dir, 'autoattack', 'autoattack.py'))) return `AUTOATTACK_DIR=${dir} has no autoattack/autoattack.py`;
  const probe = spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0) return `${python} cannot import torch (apt-get install python3-torch)`;
  return undefined;
}

/** The engine's intra-op thread count (TFJS_TORCH_NUM_THREADS or all cores), 1 on other backends. */
function engineThreads(): number {
  return tf.getBackend() === 'torch' ? (torchStatus().numThreads ?? os.cpus().length) : 1;
}

function runReference(dataDir: string, attack: string): Record<string, unknown> {
  const env = { ...process.env, OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY ?? 'PASSIVE' };
  const r = spawnSync(python, [path.join(here, 'attacks_reference.py'), '--data', dataDir, '--attack', attack, '--threads', String(engineThreads())],
    { encoding: 'utf8', env, timeout: 3_600_000, maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`attacks_reference.py ${attack} failed: ${(r.stderr || r.error?.message || '').slice(-800)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

/**
 * The port check: the PyTorch twin must compute what the toolkit computes on the attacked images,
 * or the timings compare different functions. Throws (non-zero exit) past `portTol`.
 */
function checkPort(bm: BenchModel, dataDir: string): Record<string, number> {
  const ours = bm.probe();
  const theirs = runReference(dataDir, 'probe');
  const diffs: Record<string, number> = {};
  const scales: Record<string, number> = {};
  for (const [name, mine] of Object.entries(ours)) {
    const ref = theirs[name] as number[] | undefined;
    if (ref === undefined || ref.length !== mine.length) {
      throw new Error(`port check (${bm.key}): PyTorch returned ${ref?.length ?? 'no'} values for '${name}', the toolkit ${mine.length}`);
    }
    let max = 0;
    let scale = 1;
    mine.forEach((v, i) => {
      max = Math.max(max, Math.abs(v - ref[i]!));
      scale = Math.max(scale, Math.abs(ref[i]!));
    });
    // NaN anywhere must fail, not compare false and pass.
    diffs[name] = Number.isNaN(max) || mine.some(Number.isNaN) ? Infinity : max;
    scales[name] = scale;
  }
  const line = Object.entries(diffs).map(([k, v]) => `max |${k} tfjs - PyTorch| = ${v.toExponential(2)}`).join(', ');
  // Relative to the values' size once they exceed 1, so large logits of a longer-trained model do
  // not trip float32 rounding; small values are compared absolutely.
  const bad = Object.entries(diffs).some(([k, d]) => !(d <= portTol * scales[k]!));
  log(`  port check: ${line} (tolerance ${portTol} x max(1, max |value|)) ${bad ? 'FAILED' : 'ok'}`);
  if (bad) throw new Error(`port check (${bm.key}) failed: ${line} exceeds --port-tol ${portTol}; the PyTorch twin does not compute the toolkit's model, no timing is meaningful`);
  return diffs;
}

/** One timed attack; AutoAttack adds each stage's seconds. */
type Run = { seconds: number; cpuSeconds?: number; robustAccuracy: number; stages?: Record<string, number>; stagesCpu?: Record<string, number> };

/** Process CPU time (user + system, all threads) in seconds: less sensitive to other jobs than wall time. */
const cpuNow = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/**
 * Whether the two sides' median robust accuracies agree within what different random draws of
 * the same attack explain: three binomial standard errors at n images, and at least two images
 * (a heuristic bound; the sides attack the same points, so real gaps are usually smaller).
 */
function accuracyAgreement(a: Run[], b: Run[], n: number): { difference: number; allowed: number; agree: boolean } {
  const pa = median(a.map((r) => r.robustAccuracy));
  const pb = median(b.map((r) => r.robustAccuracy));
  const p = (pa + pb) / 2;
  const allowed = Math.max(2 / n, 3 * Math.sqrt((p * (1 - p)) / n));
  const difference = Math.abs(pa - pb);
  return { difference, allowed, agree: difference <= allowed + 1e-9 };
}

function ours(bm: BenchModel, name: string): Run {
  const eps = bm.eps;
  const attack: Attack = name === 'pgd40' ? new Pgd({ eps, steps: 40, stepSize: eps / 4 })
    : name === 'warmup' ? new Pgd({ eps, steps: 2, stepSize: eps / 4 })
      : name === 'apgd_ce' ? apgdCe({ eps }) : autoAttack({ eps });
  const stages: Record<string, number> = {};
  const stagesCpu: Record<string, number> = {};
  const cpuStart = cpuNow();
  let cpuMark = cpuStart;
  const start = performance.now();
  const onStage = (s: { name: string; seconds: number }): void => {
    stages[s.name] = s.seconds;
    const c = cpuNow();
    stagesCpu[s.name] = c - cpuMark;
    cpuMark = c;
  };
  const r = name === 'autoattack_standard'
    ? autoAttack({ eps, onStage }).run(bm.logits, bm.x, bm.y, 0)
    : name === 'autoattack_sequential'
      ? autoAttackCustom(STANDARD_STAGES.map((st) => ({ ...st, options: { ...st.options, batchTargets: false } })), { eps, onStage }).run(bm.logits, bm.x, bm.y, 0)
      : attack.run(bm.logits, bm.x, bm.y, 0);
  const seconds = (performance.now() - start) / 1000;
  const cpuSeconds = cpuNow() - cpuStart;
  const acc = robustAccuracy(bm.logits, r.xAdv, bm.y);
  r.xAdv.dispose();
  return { seconds, cpuSeconds, robustAccuracy: acc, ...(Object.keys(stages).length ? { stages, stagesCpu } : {}) };
}

async function benchModel(bm: BenchModel, extraCounts: () => Record<string, number>, noRef: string | undefined): Promise<Record<string, unknown>> {
  const { x, y, eps } = bm;
  log(`\n[${bm.key}] ${bm.description}`);
  // Counted against the model's own predictions: APGD only iterates on correctly classified
  // points, so with the true labels a weak model would show 0 calls.
  const predicted = tf.tidy(() => tf.cast(tf.argMax(bm.logits(x), 1), 'int32')) as tf.Tensor1D;
  const counts: Record<string, number> = {
    pgd_step: callsPerIteration((n) => new Pgd({ eps, steps: n, stepSize: eps / 4, randomStart: false }), bm.logits, x, predicted),
    apgd_ce_iteration: callsPerIteration((n) => apgdCe({ eps, nIter: n }), bm.logits, x, predicted),
    ...extraCounts(),
  };
  predicted.dispose();
  for (const [k, v] of Object.entries(counts)) log(`  kernel calls per ${k.replace(/_/g, ' ')}: ${v}`);
  const out: Record<string, unknown> = { description: bm.description, data: bm.data, eps, images: x.shape[0], kernelCallsPerIteration: counts };
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `jatp-bench-attacks-${bm.key}-`));
  try {
    if (noRef === undefined) {
      await bm.writeForReference(dataDir);
      out.portCheck = { maxAbsDifference: checkPort(bm, dataDir), tolerance: portTol };
    }
    ours(bm, 'warmup');
    if (noRef === undefined) runReference(dataDir, 'warmup');
    const names = attacks.filter((a) => a !== 'autoattack_standard' || !args.includes('--skip-aa'));
    const table: Record<string, unknown> = {};
    log(`  ${noRef === undefined ? `tfjs (${tf.getBackend()}) vs reference PyTorch, interleaved, ${pairs} pair(s)` : `tfjs (${tf.getBackend()}) only`}; eps ${eps.toPrecision(4)}, ${x.shape[0]} images:`);
    for (const name of names) {
      const a: Run[] = [];
      const b: Run[] = [];
      const seq: Run[] = [];
      const withSequential = name === 'autoattack_standard' && args.includes('--compare-sequential');
      for (let i = 0; i < (noRef === undefined || withSequential ? pairs : 1); i++) {
        if (withSequential) seq.push(ours(bm, 'autoattack_sequential'));
        a.push(ours(bm, name));
        if (noRef === undefined) b.push(runReference(dataDir, name) as unknown as Run);
      }
      if (withSequential) {
        const total = a.map((r, i) => r.seconds / seq[i]!.seconds);
        log(`  batched targets / sequential targets (toolkit, interleaved): AutoAttack ${median(total).toFixed(2)}x (${Math.min(...total).toFixed(2)}-${Math.max(...total).toFixed(2)}), robust ${(100 * median(seq.map((r) => r.robustAccuracy))).toFixed(1)}% sequential`);
        for (const st of Object.keys(a[0]?.stages ?? {})) {
          const rs = a.map((r, i) => (r.stages?.[st] ?? NaN) / (seq[i]!.stages?.[st] ?? NaN));
          log(`    stage ${st}: sequential ${median(seq.map((r) => r.stages?.[st] ?? NaN)).toFixed(2)} s, batched/sequential ${median(rs).toFixed(2)}x (${Math.min(...rs).toFixed(2)}-${Math.max(...rs).toFixed(2)})`);
        }
      }
      const ratios = b.map((r, i) => a[i]!.seconds / r.seconds);
      const load = machine().loadavg;
      const agreement = b.length ? accuracyAgreement(a, b, x.shape[0]) : undefined;
      table[name] = { tfjs: a, reference: b, ...(seq.length ? { tfjsSequentialTargets: seq } : {}), loadavgAfter: load, ratio: ratios.length ? { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) } : undefined, agreement };
      const cpuRatios = b.filter((r) => r.cpuSeconds !== undefined).map((r, i) => a[i]!.cpuSeconds! / r.cpuSeconds!);
      if (cpuRatios.length) (table[name] as Record<string, unknown>).cpuRatio = { median: median(cpuRatios), min: Math.min(...cpuRatios), max: Math.max(...cpuRatios) };
      const accs = (rs: Run[]) => [...new Set(rs.map((r) => (100 * r.robustAccuracy).toFixed(1)))].join('/');
      log(`  ${name}: tfjs ${median(a.map((r) => r.seconds)).toFixed(1)} s, robust ${accs(a)}%` +
        (b.length ? `; reference ${median(b.map((r) => r.seconds)).toFixed(1)} s, robust ${accs(b)}%; time ratio ${median(ratios).toFixed(2)}x (min-max ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)})` : '') +
        (cpuRatios.length ? `; CPU-time ratio ${median(cpuRatios).toFixed(2)}x` : '') + `  [load ${load.join(' ')}]`);
      if (a[0]?.stages !== undefined) {
        const stageNames = Object.keys(a[0].stages);
        const stageRatios: Record<string, unknown> = {};
        for (const st of stageNames) {
          // A stage with no point left to attack: the reference never calls it.
          if (b.length && b.every((r) => r.stages?.[st] === undefined)) {
            log(`    stage ${st}: not run (no robust point left); tfjs ${median(a.map((r) => r.stages?.[st] ?? 0)).toFixed(2)} s`);
            continue;
          }
          const ta = a.map((r) => r.stages?.[st] ?? NaN);
          const rs = b.map((r, i) => ta[i]! / (r.stages?.[st] ?? NaN));
          stageRatios[st] = rs.length ? { median: median(rs), min: Math.min(...rs), max: Math.max(...rs) } : undefined;
          const cr = b.map((r, i) => (a[i]!.stagesCpu?.[st] ?? NaN) / (r.stagesCpu?.[st] ?? NaN));
          log(`    stage ${st}: tfjs ${median(ta).toFixed(2)} s` + (b.length ? `; reference ${median(b.map((r) => r.stages?.[st] ?? NaN)).toFixed(2)} s; ratio ${median(rs).toFixed(2)}x (${Math.min(...rs).toFixed(2)}-${Math.max(...rs).toFixed(2)}); CPU-time ratio ${median(cr).toFixed(2)}x` : ''));
        }
        (table[name] as Record<string, unknown>).stageRatios = stageRatios;
      }
      if (agreement !== undefined && !agreement.agree) {
        log(`  WARNING ${name}: robust accuracies differ by ${(100 * agreement.difference).toFixed(1)} points, more than the ${(100 * agreement.allowed).toFixed(1)} that the attacks' random draws explain at ${x.shape[0]} images`);
      }
    }
    out.attacks = table;
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  return out;
}

/** Kernel counts of the toolkit's ResNet-18 (tfjs-layers, width 64) on 32x32x3, printed with part (a). */
function resnet18Counts(): Record<string, number> {
  const net = buildResnet18({ seed: 1 });
  const rx = tf.randomUniform([8, 32, 32, 3], 0, 1, 'float32', 12) as tf.Tensor4D;
  const rmodel: LogitsFn = (t) => net.apply(t, false) as tf.Tensor2D;
  const ry = tf.tidy(() => tf.cast(tf.argMax(rmodel(rx), 1), 'int32')) as tf.Tensor1D;
  const counts = {
    resnet18_pgd_step: callsPerIteration((n) => new Pgd({ eps: 8 / 255, steps: n, stepSize: 2 / 255, randomStart: false }), rmodel, rx, ry),
    resnet18_apgd_ce_iteration: callsPerIteration((n) => apgdCe({ eps: 8 / 255, nIter: n }), rmodel, rx, ry),
  };
  tf.dispose([rx, ry]);
  net.dispose();
  return counts;
}

async function main(): Promise<void> {
  const backend = await initBackend();
  const host = machine();
  log(`${host.cpuModel}, ${host.cpus} CPUs, engine threads ${engineThreads()}, load average ${host.loadavg.join(' ')} (${host.date})`);
  log(`backend ${backend}; ${images} images per model`);
  const results: Record<string, unknown> = { provenance: provenance(), machine: host, backend, engineThreads: engineThreads(), images, models: {} };
  const noRef = referenceUnavailable();
  if (noRef !== undefined) log(`reference AutoAttack (PyTorch): skipped, ${noRef}`);
  const models = results.models as Record<string, unknown>;

  if (modelFlag !== 'full') {
    const bm = await smallCnnBench({ images, eps: cnnEps, trainSteps, tradesEpochs, cache });
    try {
      models.cnn = await benchModel(bm, resnet18Counts, noRef);
    } finally {
      bm.dispose();
    }
  }
  if (modelFlag !== 'cnn') {
    const bm = fullRuns !== undefined
      ? await runFolderFullModelBench({ images, ...fullRuns })
      : await fullModelBench({ images, trainSteps: fullTrainSteps, ...(cifar === undefined ? {} : { cifar }) });
    try {
      models.full = await benchModel(bm, () => ({}), noRef);
    } finally {
      bm.dispose();
    }
  }
  results.loadavgAtEnd = machine().loadavg;
  log(`\nload average at the end ${machine().loadavg.join(' ')}`);
  if (args.includes('--json')) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
