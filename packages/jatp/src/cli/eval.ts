/**
 * `jatp eval`: attack the full model and report clean / robust accuracy (spec §5.7).
 *
 * Every flag is checked, and the output paths probed, before any data or network is loaded, so a
 * typo fails in a second instead of after hours of AutoAttack. With `--json out.json` the
 * run records each finished (attack, batch) in `out.json.state.json`; the same command again, or
 * `jatp eval --resume out.json.state.json`, continues from there. `--shard i/n` evaluates one
 * contiguous block of batches, `jatp eval merge` combines shard outputs into the report one process
 * would have written, and `--nproc N` does both with N local processes.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Command } from 'commander';
import * as tf from '@tensorflow/tfjs-core';
import {
  initBackend,
  firstN,
  parseAttackList,
  checkAttackNorm,
  validAttackForms,
  assembleReport,
  evaluate,
  EVALUATION_DEFAULTS,
  mergeStates,
  readState,
  loadPipeline,
  PIXEL_RANGES,
  loadTestSplit,
  toFloatBatch,
  formatSanityCard,
  sanityCard,
  sweepSvg,
  attackLabel,
  EXAMPLES_FORMAT,
  evaluateExamples,
  examplesWriter,
  prepareExamplesDir,
  readManifest,
  writeContactSheets,
  type AttackSpec,
  type BallNorm,
  type EvaluationReport,
  type EvaluationState,
  type ShardSpec,
  type PixelRange,
  type SanityCard,
  type AttackBatch,
  type EvaluatedModel,
  type ExamplesManifest,
  type Split,
  type EvalJson,
  type EvaluatedDescription,
  cliEvalJson,
  writeEvalJson,
  formatReport,
  squareChecks,
  writeFileAtomicSync,
} from '../index.js';
// CLI-only helper: the --shard text parser.
import { parseShard } from '../evaluation/eval-state.js';
import { runShardProcesses } from './eval-shards.js';
import { parseChoice, parseInteger, parseNormEps } from './flags.js';
import { checkOutputDir, checkOutputPath } from './output-paths.js';

export { checkOutputPath };

/** The flags as commander hands them over (strings), also what a state file keeps to resume with. */
export interface EvalFlags {
  model?: string;
  weights?: string;
  preprocessor?: string;
  preprocessorWeights?: string;
  pixelRange: string;
  dataset: string;
  dataDir?: string;
  n: string;
  attacks: string;
  eps?: string;
  norm: string;
  bpda?: boolean;
  batchSize: string;
  seed: string;
  repeat: string;
  eot?: string;
  json?: string;
  state?: string;
  resume?: string;
  shard?: string;
  nproc?: string;
  saveExamples?: string;
  fromExamples?: string;
  sanity?: boolean;
  sanitySteps?: string;
  sanityQueries?: string;
}

/** Flags that describe the evaluation itself (kept in the state; --resume and --nproc re-create a run from them). */
const RUN_FLAGS = ['model', 'weights', 'preprocessor', 'preprocessorWeights', 'pixelRange', 'dataset', 'dataDir', 'n', 'attacks', 'eps', 'norm', 'bpda', 'batchSize', 'seed', 'repeat', 'eot', 'json', 'state', 'shard', 'saveExamples'] as const;

export interface EvalSettings {
  readonly attacks: AttackSpec[];
  readonly eps: number;
  readonly norm: BallNorm;
  readonly n: number;
  readonly batchSize: number;
  readonly seed: number;
  readonly repeat: number;
  /** EOT draws per attack loss / gradient; undefined: none (one pass). */
  readonly eot?: number;
  readonly pixelRange: PixelRange;
  readonly shard?: ShardSpec;
  readonly nproc: number;
  readonly json?: string;
  readonly statePath?: string;
  readonly sanity?: { steps: number; queries: number };
}

/** Where `--json out.json` keeps its state. */
export function statePathFor(json: string): string {
  return `${json}.state.json`;
}

/** Where `--sanity --json out.json` writes its eps-sweep plot. */
export function sweepSvgPath(json: string): string {
  return `${json.replace(/\.json$/, '')}.sweep.svg`;
}

/** Parses and checks every flag; throws naming the flag. Touches no data and no network. */
export function parseEvalFlags(flags: EvalFlags, explicit: ReadonlySet<string> = new Set()): EvalSettings {
  if (!flags.model && !flags.weights) throw new Error(`--model: required (a run folder, a .safetensors weights file or a tfjs model.json), or --resume <state file>`);
  const attacks = parseAttackList(flags.attacks).map((s) => (flags.bpda ? { ...s, bpda: true } : s));
  const seen = new Set<string>();
  for (const a of attacks) {
    // Two runs under one name would overwrite each other's column in every report.
    if (seen.has(attackLabel(a))) throw new Error(`--attacks: '${a.text}' is listed twice in '${flags.attacks}'; each attack runs once`);
    seen.add(attackLabel(a));
  }
  const norm = parseChoice('--norm', flags.norm, ['Linf', 'L2'] as const);
  for (const a of attacks) checkAttackNorm(a, norm);
  if (!flags.preprocessor && !flags.preprocessorWeights) {
    const bpda = attacks.find((a) => a.bpda);
    if (bpda) throw new Error(`${flags.bpda ? '--bpda' : `--attacks: '${bpda.text}'`}: BPDA replaces a pre-processor's backward pass, and no --preprocessor is given (it would run plain PGD under the name bpda); add --preprocessor or use pgd`);
  }
  const eps = parseNormEps('--eps', flags.eps, norm, flags.dataset);
  const n = parseInteger('--n', flags.n, { min: 1 });
  const batchSize = parseInteger('--batch-size', flags.batchSize, { min: 1 });
  const seed = parseInteger('--seed', flags.seed, { min: 0 });
  const repeat = parseInteger('--repeat', flags.repeat, { min: 1 });
  const eot = flags.eot === undefined ? undefined : parseInteger('--eot', flags.eot, { min: 1 });
  const pixelRange = parseChoice('--pixel-range', flags.pixelRange, PIXEL_RANGES);
  const shard = flags.shard === undefined ? undefined : parseShard(flags.shard);
  let nproc = flags.nproc === undefined ? 1 : parseInteger('--nproc', flags.nproc, { min: 1, max: 256 });
  const batches = Math.ceil(n / batchSize);
  if (nproc > batches) {
    // More processes than batches would leave shards with nothing to do; decided before spawning.
    process.stderr.write(`warning: --nproc ${nproc} is more than the ${batches} batch(es) of --n ${n} / --batch-size ${batchSize}; running ${batches} process(es)\n`);
    nproc = batches;
  }
  if (nproc > os.availableParallelism()) process.stderr.write(`warning: --nproc ${nproc} is more than the ${os.availableParallelism()} CPU cores; the shards will compete for them\n`);
  if (shard && nproc > 1) throw new Error(`--nproc: cannot be combined with --shard (--nproc ${nproc} runs shards 1..${nproc} itself)`);
  if (shard && !flags.json && !flags.state) throw new Error(`--shard: needs --json <file> (or --state <file>) so that 'jatp eval merge' can combine the shards`);
  const sanity = flags.sanity
    ? { steps: parseInteger('--sanity-steps', flags.sanitySteps ?? '20', { min: 1 }), queries: parseInteger('--sanity-queries', flags.sanityQueries ?? '500', { min: 1 }) }
    : undefined;
  if (sanity && (shard || nproc > 1)) throw new Error('--sanity: runs in one process; drop --shard / --nproc');
  if (eot !== undefined && sanity) throw new Error('--eot: the sanity card runs its own attacks without EOT; drop --eot or --sanity');
  if (eot !== undefined && flags.fromExamples !== undefined) throw new Error('--eot: --from-examples runs no attacks (the saved examples record their own EOT draws); drop --eot');
  if (flags.saveExamples !== undefined && fs.existsSync(flags.saveExamples) && !fs.statSync(flags.saveExamples).isDirectory()) {
    throw new Error(`--save-examples: '${flags.saveExamples}' is a file; expected a folder for the examples`);
  }
  if (flags.saveExamples !== undefined) checkOutputDir(flags.saveExamples, '--save-examples');
  if (flags.weights && flags.model && flags.model !== flags.weights && fs.existsSync(flags.model)) {
    throw new Error(`--weights: '${flags.weights}' and --model '${flags.model}' both name a model to load; give one (--model may name an architecture to check --weights against)`);
  }
  if (flags.fromExamples !== undefined) {
    const manifest = readManifest(flags.fromExamples);
    // The saved examples fix these; a different value typed beside them would be silently ignored.
    const recorded: Record<string, [unknown, unknown]> = {
      n: [manifest.n, n],
      attacks: [manifest.attacks.join(','), attacks.map(attackLabel).join(',')],
      eps: [manifest.eps, eps],
      norm: [manifest.norm, norm],
    };
    const ignored = Object.entries(recorded).filter(([k, [saved, given]]) => explicit.has(k) && saved !== given);
    if (ignored.length > 0) {
      throw new Error(`--from-examples: the saved examples were made with ${ignored.map(([k, [saved]]) => `--${k} ${String(saved)}`).join(', ')} (their manifest.json); drop ${ignored.map(([k]) => `--${k}`).join(', ')} or pass the same value`);
    }
    if (shard || nproc > 1 || sanity || flags.saveExamples) throw new Error('--from-examples: scores saved examples in one process; drop --shard / --nproc / --sanity / --save-examples');
  }
  if (flags.json !== undefined) checkOutputPath(flags.json, '--json');
  if (sanity && flags.json !== undefined) checkOutputPath(sweepSvgPath(flags.json), '--json (its sweep plot)');
  const statePath = flags.state ?? (flags.json !== undefined ? statePathFor(flags.json) : undefined);
  if (statePath !== undefined) checkOutputPath(statePath, flags.state !== undefined ? '--state' : '--json (its state file)');
  return { attacks, eps, norm, n, batchSize, seed, repeat, eot, pixelRange, shard, nproc, json: flags.json, statePath: sanity ? undefined : statePath, sanity };
}

/** What the CLI keeps in the state beside the numbers, so merge and resume can write the same JSON. */
interface EvalMeta {
  flags: Partial<EvalFlags>;
  describe: EvaluatedDescription;
  backend: string;
}

/** The eval JSON of a report run with `meta`'s command. */
function evalJsonOf(report: EvaluationReport, meta: EvalMeta, identity: Readonly<Record<string, string>>): EvalJson {
  return cliEvalJson(report, { describe: meta.describe, backend: meta.backend, attacksRequested: meta.flags.attacks }, identity);
}

/** The Square warning also goes to stderr, where a script that keeps only stdout's table still shows it. */
function warnSquare(report: EvaluationReport): void {
  for (const { attack, check } of squareChecks(report)) if (check.warn) process.stderr.write(`warning: ${attack}: ${check.message}\n`);
}

function progressPrinter(): (attack: string, done: number, total: number) => void {
  const tty = process.stderr.isTTY === true;
  let lastLine = 0;
  return (attack, done, total) => {
    if (tty) {
      const width = 24;
      const filled = Math.round((width * done) / total);
      process.stderr.write(`\r${attack.padEnd(10)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}\x1b[K`);
      if (done === total) process.stderr.write('\n');
    } else if (done === total || Date.now() - lastLine > 10_000) {
      lastLine = Date.now();
      process.stderr.write(`${attack}: ${done}/${total}\n`);
    }
  };
}

/** The flags to keep (or pass on): only those that describe the run, without undefined ones. */
function runFlags(flags: EvalFlags): Partial<EvalFlags> {
  const out: Record<string, unknown> = {};
  for (const k of RUN_FLAGS) if (flags[k] !== undefined) out[k] = flags[k];
  return out as Partial<EvalFlags>;
}

/**
 * `--resume <state>`: the flags the state was made with (its own path as the state). A flag typed
 * beside --resume (`explicit`) that would change the evaluation is refused, naming it: it would
 * otherwise be silently ignored and the old evaluation continued.
 */
function flagsFromState(file: string, given: EvalFlags, explicit: ReadonlySet<string>): EvalFlags {
  if (!fs.existsSync(file)) throw new Error(`--resume: '${file}' does not exist (expected the .state.json file beside a --json output)`);
  const state = readState(file, '--resume');
  const meta = state.meta as Partial<EvalMeta> | undefined;
  if (!meta?.flags) throw new Error(`--resume: '${file}' does not record the command it belongs to (written by a library caller, not 'jatp eval')`);
  // --resume takes the recorded command; an --eot given beside it that disagrees would be silently lost.
  if (given.eot !== undefined && parseInteger('--eot', given.eot, { min: 1 }) !== (state.key.eot ?? 1)) {
    throw new Error(`--resume: '${file}' was run with --eot ${state.key.eot ?? 1}, not --eot ${given.eot}; drop --eot to resume it, or start a new evaluation`);
  }
  const recorded = meta.flags as Partial<EvalFlags>;
  for (const k of RUN_FLAGS) {
    if (k === 'eot' || k === 'json' || k === 'state' || !explicit.has(k)) continue;
    if (given[k] !== recorded[k]) {
      const flag = `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
      throw new Error(`--resume: '${file}' was run with ${flag} ${recorded[k] === undefined ? '(not given)' : String(recorded[k])}, not ${flag} ${String(given[k])}; drop ${flag} to resume it, or start a new evaluation (another --json)`);
    }
  }
  return { ...(recorded as EvalFlags), state: file };
}

/**
 * `explicit`: the flags typed on the command line (not commander defaults), checked against what
 * --resume's state or --from-examples' manifest recorded. A library caller passes every flag with
 * its defaults filled in and no `explicit`: nothing is checked then.
 */
export async function runEval(given: EvalFlags, explicit: ReadonlySet<string> = new Set()): Promise<EvaluationReport | SanityCard | undefined> {
  const flags = given.resume !== undefined ? flagsFromState(given.resume, given, explicit) : given;
  const settings = parseEvalFlags(flags, given.resume !== undefined ? new Set() : explicit);
  if (settings.nproc > 1) return runParallel(flags, settings);

  const backend = await initBackend();
  if (flags.fromExamples !== undefined) return evaluateSplit(flags, settings, backend, flags.dataset, { images: new Uint8Array(0), labels: new Int32Array(0), count: 0 });
  const data = await loadTestSplit(flags.dataset, { dataDir: flags.dataDir });
  if (settings.n > data.test.count) {
    process.stderr.write(`warning: --n ${settings.n} is more than the ${data.test.count} test images of ${data.name}; evaluating all ${data.test.count}\n`);
  }
  const split = firstN(data.test, Math.min(settings.n, data.test.count));
  return evaluateSplit(flags, settings, backend, data.name, split, data.numClasses);
}

/** Throws unless the model has one output per class of the dataset (otherwise accuracy is silently wrong). */
function checkClassCount(model: EvaluatedModel, split: Split, numClasses: number, flags: EvalFlags, dataset: string, trainedOn: string | undefined): void {
  if (split.count === 0) return;
  const { x } = toFloatBatch(split, [0]);
  let logits: tf.Tensor;
  try {
    logits = tf.tidy(() => model.logits(x));
  } catch (err) {
    x.dispose();
    // The network's own message names shapes and options; the sidecar knows the simpler answer.
    if (trainedOn !== undefined && trainedOn !== dataset) throw new Error(`--model: '${flags.weights ?? flags.model}' was trained on ${trainedOn} and cannot take ${dataset} images (${(err as Error).message}); evaluate it with --dataset ${trainedOn}`);
    throw err;
  }
  const outputs = logits.shape[logits.rank - 1]!;
  tf.dispose([x, logits]);
  if (outputs !== numClasses) {
    throw new Error(`--model: '${flags.weights ?? flags.model}' has ${outputs} outputs, but ${dataset} has ${numClasses} classes; evaluate it on a dataset with ${outputs} classes`);
  }
}

async function evaluateSplit(flags: EvalFlags, settings: EvalSettings, backend: string, datasetName: string, split: Split, numClasses?: number): Promise<EvaluationReport | SanityCard | undefined> {
  const data = { name: datasetName };
  const pipeline = await loadPipeline({
    model: flags.weights ?? flags.model!,
    preprocessor: flags.preprocessorWeights ?? flags.preprocessor,
    pixelRange: settings.pixelRange,
  });
  try {
    if (pipeline.classifier && settings.pixelRange !== '0-1') {
      // Our networks take [0, 1]; the flag would otherwise be silently ignored.
      throw new Error(`--pixel-range ${settings.pixelRange}: applies to foreign tfjs models; '${flags.weights ?? flags.model}' is a jatp network, which takes pixels in 0-1 (drop --pixel-range)`);
    }
    if (flags.weights && flags.model && pipeline.classifier && flags.model !== flags.weights && pipeline.classifier.arch !== flags.model && !fs.existsSync(flags.model)) {
      throw new Error(`--model: '${flags.model}' does not match the architecture '${pipeline.classifier.arch}' stored with --weights ${flags.weights}`);
    }
    const meta: EvalMeta = { flags: runFlags(flags), describe: { ...pipeline.describe, dataset: data.name }, backend };
    const identity = { ...pipeline.identity, dataset: data.name };
    if (flags.fromExamples !== undefined) {
      const report = evaluateExamples(pipeline.model, flags.fromExamples);
      const fromMeta = { ...meta, describe: { ...meta.describe, dataset: `examples ${flags.fromExamples}` } };
      if (settings.json) writeEvalJson(settings.json, evalJsonOf(report, fromMeta, identity));
      process.stdout.write(`${formatReport(report, fromMeta.describe)}\n`);
      warnSquare(report);
      return report;
    }
    if (numClasses !== undefined) checkClassCount(pipeline.model, split, numClasses, flags, data.name, pipeline.trainedOn);
    if (settings.sanity) {
      return runSanity(pipeline.model, split, settings, meta, pipeline.preprocessor !== undefined);
    }
    const unlock = settings.statePath !== undefined ? lockState(settings.statePath, flags.state !== undefined ? '--state' : '--json') : () => {};
    try {
      if (settings.statePath && fs.existsSync(settings.statePath)) process.stderr.write(`resuming from ${settings.statePath}\n`);
      process.stderr.write(`eval on backend '${backend}': ${split.count} ${data.name} test images, attacks ${settings.attacks.map((a) => a.text).join(', ')}${settings.shard ? `, shard ${flags.shard}` : ''}\n`);
      let onAttackBatch: ((b: AttackBatch) => void) | undefined;
      if (flags.saveExamples !== undefined) {
        const manifest: ExamplesManifest = {
          format: EXAMPLES_FORMAT,
          attacks: settings.attacks.map(attackLabel),
          eps: settings.eps,
          norm: settings.norm,
          n: split.count,
          batchSize: settings.batchSize,
          ...(settings.eot !== undefined && settings.eot > 1 ? { eot: settings.eot } : {}),
          source: { ...meta.describe, identity },
        };
        prepareExamplesDir(flags.saveExamples, manifest);
        onAttackBatch = examplesWriter(flags.saveExamples, manifest);
      }
      const report = evaluate(pipeline.model, split, {
        onAttackBatch,
        attacks: settings.attacks,
        eps: settings.eps,
        norm: settings.norm,
        batchSize: settings.batchSize,
        seed: settings.seed,
        repeat: settings.repeat,
        eot: settings.eot,
        shard: settings.shard,
        statePath: settings.statePath,
        identity,
        meta: meta as unknown as Record<string, unknown>,
        onProgress: progressPrinter(),
      });
      if (flags.saveExamples !== undefined) writeContactSheets(flags.saveExamples);
      if (report.n === 0) {
        // A shard past the last batch: its (empty) state is written for `eval merge`; a table would show NaN%.
        const batches = Math.ceil(split.count / settings.batchSize);
        process.stderr.write(`eval: shard ${flags.shard} holds no batch (${split.count} images make ${batches} batch(es) of ${settings.batchSize}); nothing to evaluate, its empty state is kept for 'jatp eval merge'\n`);
        return undefined;
      }
      if (settings.json) writeEvalJson(settings.json, evalJsonOf(report, meta, identity));
      process.stdout.write(`${formatReport(report, meta.describe)}\n`);
      warnSquare(report);
      return report;
    } finally {
      unlock();
    }
  } finally {
    pipeline.dispose();
  }
}

/**
 * Two evaluations on one state file would overwrite each other's batches: the second is refused
 * while the first runs. `<state>.lock` holds the owner's pid; a lock whose process is gone
 * (SIGKILL) is taken over, so it never blocks a resume. Returns the release function.
 */
function lockState(statePath: string, flag: string): () => void {
  const lock = `${statePath}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(lock, `${process.pid}\n`, { flag: 'wx' });
      const release = (): void => {
        process.off('exit', release);
        if (fs.existsSync(lock) && fs.readFileSync(lock, 'utf8').trim() === String(process.pid)) fs.rmSync(lock, { force: true });
      };
      process.on('exit', release);
      return release;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(fs.readFileSync(lock, 'utf8').trim());
      let alive = false;
      try {
        process.kill(owner, 0);
        alive = Number.isInteger(owner) && owner > 0 && owner !== process.pid;
      } catch {
        alive = false;
      }
      if (alive) throw new Error(`${flag}: '${statePath}' is in use by another evaluation (process ${owner}, lock ${lock}); wait for it, or choose another ${flag}`);
      fs.rmSync(lock, { force: true }); // left by a process that no longer runs
    }
  }
  throw new Error(`${flag}: could not take the lock ${lock}; try again`);
}

/** `--sanity`: the gradient-masking checks instead of the attack list (no state: it is short by design). */
function runSanity(model: EvaluatedModel, split: Split, settings: EvalSettings, meta: EvalMeta, hasPreprocessor: boolean): SanityCard {
  const card = sanityCard(model, split, {
    eps: settings.eps,
    norm: settings.norm,
    batchSize: settings.batchSize,
    seed: settings.seed,
    steps: settings.sanity!.steps,
    squareQueries: settings.sanity!.queries,
    hasPreprocessor,
    onProgress: (stage) => process.stderr.write(`sanity: ${stage}\n`),
  });
  const title = meta.describe.preprocessor ? `${meta.describe.preprocessor} + ${meta.describe.model}` : meta.describe.model;
  if (settings.json) {
    writeFileAtomicSync(settings.json, `${JSON.stringify({ ...meta.describe, backend: meta.backend, sanity: card })}\n`);
    writeFileAtomicSync(sweepSvgPath(settings.json), sweepSvg([{ label: 'PGD', sweep: card.sweep }], `robust accuracy vs eps: ${meta.describe.dataset}`));
  }
  process.stdout.write(`${formatSanityCard(card, title)}\n`);
  return card;
}

/** A state from a merge argument: a state file itself, or the shard's --json output with its state beside it. */
function stateOf(file: string): { file: string; state: EvaluationState } {
  const beside = statePathFor(file);
  // An empty shard writes its state but no report (it has no numbers); its --json name still finds it.
  if (!fs.existsSync(file) && !fs.existsSync(beside)) throw new Error(`eval merge: '${file}' does not exist`);
  const stateFile = fs.existsSync(beside) ? beside : file;
  return { file: stateFile, state: readState(stateFile, 'eval merge') };
}

/** `jatp eval merge`: the unsharded report from shard outputs; returns it and writes `--json`. */
export function runMerge(files: readonly string[], opts: { json?: string }): EvaluationReport {
  if (opts.json !== undefined) checkOutputPath(opts.json, '--json');
  const merged = mergeStates(files.map(stateOf));
  const meta = merged.meta as unknown as EvalMeta | undefined;
  if (!meta?.describe) throw new Error(`eval merge: '${files[0]}' was not written by 'jatp eval --shard' (no command recorded)`);
  const report = assembleReport(merged);
  if (opts.json !== undefined) writeEvalJson(opts.json, evalJsonOf(report, meta, merged.key.identity));
  process.stdout.write(`${formatReport(report, meta.describe)}\n`);
  warnSquare(report);
  return report;
}

/** `--nproc N`: shards 1..N as child processes (cli/eval-shards.ts), then merged into `--json`. */
async function runParallel(flags: EvalFlags, settings: EvalSettings): Promise<EvaluationReport> {
  const tempDir = settings.json === undefined ? fs.mkdtempSync(path.join(os.tmpdir(), 'jatp-eval-')) : undefined;
  const base = settings.json ?? path.join(tempDir!, 'eval.json');
  try {
    // Each shard gets its own --json (and the state beside it); the rest of the command is the same.
    const rest = Object.fromEntries(Object.entries(runFlags(flags)).filter(([k]) => k !== 'json' && k !== 'state')) as Partial<EvalFlags>;
    const shardFiles = await runShardProcesses(rest as Record<string, unknown>, settings.nproc, base);
    return runMerge(shardFiles, { json: settings.json });
  } finally {
    // Without --json the shard outputs are scratch: nothing to resume from, nothing to keep.
    if (tempDir !== undefined) fs.rmSync(tempDir, { recursive: true, force: true });
  }
}

export function register(program: Command): void {
  const evalCommand = program
    .command('eval')
    .description(
      'Attack the full model (pre-processor + classifier) with adaptive white-box attacks and report clean and robust accuracy',
    )
    .option('--model <path>', 'classifier: a run folder, a .safetensors weights file (with its .json sidecar), or a tfjs model.json (required unless --resume)')
    .option('--weights <file>', 'classifier weights file (then --model may name the architecture, checked against the file)')
    .option('--preprocessor <path>', 'pre-processor run folder or weights file (e.g. runs/jatp); omitted: no pre-processing')
    .option('--preprocessor-weights <file>', 'pre-processor weights file (alternative to --preprocessor)')
    .option('--pixel-range <range>', `input range a foreign tfjs model expects: ${PIXEL_RANGES.join(', ')}`, '0-1')
    .option('--dataset <name>', 'fashion-mnist | mnist | cifar10 | svhn | folder:<path> (only the test split is read)', 'fashion-mnist')
    .option('--data-dir <dir>', 'where the dataset files are (default: the usual locations and the cache)')
    .option('--n <count>', 'evaluate the first N test images', '1000')
    .option('--attacks <list>', `comma-separated attacks with budgets; valid: ${validAttackForms()}`, 'pgd40')
    .option('--eps <value>', 'perturbation budget, e.g. 8/255 or 0.1 (L∞ default: 8/255; 0.1 for (fashion-)mnist. --norm L2: up to sqrt(H·W·C), default 0.5; 1.5 for (fashion-)mnist)')
    .option('--norm <norm>', 'Linf | L2 (gradient attacks)', EVALUATION_DEFAULTS.norm)
    .option('--bpda', 'run every attack with the identity as the pre-processor\'s backward pass (BPDA)')
    .option('--batch-size <n>', 'images per attack batch', String(EVALUATION_DEFAULTS.batchSize))
    .option('--seed <n>', 'seed of every random start', String(EVALUATION_DEFAULTS.seed))
    .option('--repeat <k>', 'forward passes per final decision for a randomized model (worst case); a deterministic model runs once', '1')
    .option(
      '--eot <k>',
      'EOT: every attack averages each loss / gradient over k forward passes (default: one). Matters only for a randomized pre-processor; the final outcome is still decided by --repeat',
    )
    .option('--json <file>', 'write the full report with per-example outcomes to this JSON file (progress is kept in <file>.state.json)')
    .option('--state <file>', 'keep the resumable state here instead of beside --json')
    .option('--resume <state>', 'continue the evaluation recorded in this state file (the same command again also resumes)')
    .option('--shard <i/n>', 'evaluate only the i-th of n contiguous slices of the batches (combine with `jatp eval merge`)')
    .option('--nproc <N>', 'run N shards as local processes and merge them')
    .option('--save-examples <dir>', 'archive x_adv and clip01(P(x_adv)) per attack (safetensors with test indices and outcomes, plus a PNG contact sheet)')
    .option('--from-examples <dir>', 'score examples saved with --save-examples against --model / --preprocessor (transfer, oblivious evaluation)')
    .option('--sanity', 'run the gradient-masking sanity card (FGSM, PGD-K, PGD-2K, Square, BPDA, eps sweep, gradient and output checks) instead of --attacks')
    .option('--sanity-steps <K>', 'PGD steps K of the sanity card', '20')
    .option('--sanity-queries <q>', 'Square queries of the sanity card', '500')
    .action(async (flags: EvalFlags, command: Command) => {
      const typed = new Set(Object.keys(flags).filter((k) => command.getOptionValueSource(k) === 'cli'));
      await runEval(flags, typed);
    });
  evalCommand
    .command('merge')
    .description('combine the outputs of `jatp eval --shard i/n` runs into the report one process would have written')
    .argument('<shards...>', 'shard --json outputs (their .state.json beside them) or state files')
    .option('--json <file>', 'write the merged report here')
    .action((files: string[], opts: { json?: string }) => {
      // commander hands `--json` after `merge` to the parent `eval` command, which has the same option.
      runMerge(files, { json: opts.json ?? (evalCommand.opts() as { json?: string }).json });
    });
}
