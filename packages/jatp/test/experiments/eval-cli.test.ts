/**
 * `jatp eval` edge cases (issues 12 and 14), run in-process on the cpu backend: output paths are
 * checked before any work, --n above the test-set size warns, a classifier passed as
 * --preprocessor is named as such, bad flag values name the flag; and the harness's --repeat:
 * randomized models are detected and decided by the worst of k passes, deterministic ones run once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Command } from 'commander';
import { parseEvalFlags, register, runEval, statePathFor, type EvalFlags } from '../../src/cli/eval.js';
import { keyDifferences, readState } from '../../src/evaluation/eval-state.js';
import { PNG } from 'pngjs';
import { evaluate, type EvaluationReport } from '../../src/evaluation/evaluate.js';
import { parseAttackSpec } from '../../src/attacks/attack-specs.js';
import { loadPipeline } from '../../src/evaluation/load-pipeline.js';
import { buildClassifier } from '../../src/models/architectures.js';
import { saveNetwork } from '../../src/models/weights.js';
import type { LogitsFn } from '../../src/models/types.js';
import { ensureGradients } from '../../src/gradients.js';
import { hashFloat, tinySplit } from '../training/tiny.js';
import { writeEvalFixture, type EvalFixture } from './eval-fixture.js';

process.env.JATP_BACKEND = 'cpu';
await tf.setBackend('cpu');
ensureGradients();

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jatp-eval-cli-'));
let fixture: EvalFixture;

function flags(extra: Partial<EvalFlags> = {}): EvalFlags {
  return {
    model: fixture.model,
    dataDir: fixture.dataDir,
    dataset: 'fashion-mnist',
    pixelRange: '0-1',
    n: '12',
    attacks: 'pgd2',
    eps: '0.05',
    norm: 'Linf',
    batchSize: '6',
    seed: '0',
    repeat: '1',
    ...extra,
  };
}

/** Captures what `fn` writes to stderr (stdout is left alone: the test runner reads it). */
async function stderrOf(fn: () => Promise<unknown>): Promise<string> {
  const write = process.stderr.write.bind(process.stderr);
  let text = '';
  process.stderr.write = ((chunk: string | Uint8Array) => ((text += String(chunk)), true)) as typeof process.stderr.write;
  try {
    await fn();
  } finally {
    process.stderr.write = write;
  }
  return text;
}

test('setup', async () => {
  fixture = await writeEvalFixture(dir, 20);
});

test('a --json path that cannot be written fails before any work, naming the flag', async () => {
  const started = Date.now();
  await assert.rejects(runEval(flags({ json: dir })), /--json: '.*' is a directory; expected the path of a file/);
  const file = path.join(dir, 'a-file');
  fs.writeFileSync(file, 'x');
  await assert.rejects(runEval(flags({ json: path.join(file, 'out.json') })), /--json: cannot create .*is a file, not a folder/);
  assert.ok(Date.now() - started < 2000, 'no data or model was loaded');
});

test('bad flag values name the flag and what it takes', () => {
  const f = (extra: Partial<EvalFlags>): (() => unknown) => () => parseEvalFlags(flags(extra));
  assert.throws(f({ eps: '8/0' }), /--eps: '8\/0' divides by zero/);
  assert.throws(f({ eps: '-1' }), /--eps: '-1' is not a number in \[0, 1\]/);
  assert.throws(f({ n: '-5' }), /--n: '-5' is not an integer >= 1/);
  assert.throws(f({ repeat: '0' }), /--repeat: '0' is not an integer >= 1/);
  assert.throws(f({ shard: '3/2' }), /--shard: '3\/2' needs 1 <= i <= n/);
  assert.throws(f({ shard: '1/2' , json: undefined }), /--shard: needs --json/);
  assert.throws(f({ nproc: '2', shard: '1/2', json: path.join(dir, 'o.json') }), /--nproc: cannot be combined with --shard/);
  assert.throws(f({ norm: 'L1' }), /--norm: 'L1' is not one of Linf, L2/);
  assert.throws(f({ model: undefined }), /--model: required/);
});

test('--n above the test-set size warns and evaluates all images; only the (intact) test split is read', async () => {
  const out = path.join(dir, 'n.json');
  const text = await stderrOf(() => runEval(flags({ n: '1000', json: out })));
  assert.match(text, /warning: --n 1000 is more than the 20 test images of fashion-mnist; evaluating all 20/);
  assert.equal((JSON.parse(fs.readFileSync(out, 'utf8')) as { n: number }).n, 20);
});

test('a classifier passed as --preprocessor is refused as "not a pre-processor"', async () => {
  const net = buildClassifier('small-cnn', { numClasses: 10, inChannels: 1, width: 2, inputSize: 8, seed: 1 });
  const file = path.join(dir, 'cnn.safetensors');
  await saveNetwork(net, file);
  net.dispose();
  await assert.rejects(loadPipeline({ model: fixture.model, preprocessor: file }), /--preprocessor: '.*cnn\.safetensors' holds a classifier \('small-cnn'\), not a pre-processor/);
});

test('--repeat: a randomized model is detected and decided by the worst of k passes; a deterministic one runs once', () => {
  const split = tinySplit(16, [4, 4, 1], 3, 9);
  const w = tf.tensor2d(Float32Array.from({ length: 48 }, (_, i) => hashFloat(i, 4)), [16, 3]);
  const exact: LogitsFn = (x) => tf.tidy(() => tf.matMul(tf.reshape(x, [x.shape[0], 16]), w));
  let draws = 0;
  // Noise as large as the logits: decisions flip between passes.
  const noisy: LogitsFn = (x) => tf.tidy(() => tf.add(exact(x), tf.randomNormal([x.shape[0], 3], 0, 2, 'float32', ++draws)));
  const options = { attacks: [parseAttackSpec('pgd1')], eps: 0, norm: 'Linf' as const, batchSize: 8, seed: 0 };
  const once = evaluate({ logits: noisy, bpdaLogits: noisy }, split, { ...options, repeat: 1 });
  const worst = evaluate({ logits: noisy, bpdaLogits: noisy }, split, { ...options, repeat: 8 });
  assert.equal(worst.randomized, true);
  assert.equal(worst.decisionPasses, 8);
  assert.ok(worst.cleanAccuracy < once.cleanAccuracy, `worst of 8 passes (${worst.cleanAccuracy}) below one pass (${once.cleanAccuracy})`);
  const before = draws;
  const det = evaluate({ logits: exact, bpdaLogits: exact }, split, { ...options, repeat: 8 });
  assert.equal(det.randomized, false);
  assert.equal(det.decisionPasses, 1);
  assert.equal(draws, before);
  w.dispose();
});

test('--save-examples archives x_adv per attack; --from-examples on the same model gives the same accuracies; damage is named', async () => {
  const examples = path.join(dir, 'examples');
  const report = (await runEval(flags({ attacks: 'pgd3,dlr3', saveExamples: examples, json: path.join(dir, 'saved.json') }))) as EvaluationReport;
  const manifest = JSON.parse(fs.readFileSync(path.join(examples, 'manifest.json'), 'utf8')) as { attacks: string[]; n: number };
  assert.deepEqual(manifest.attacks, ['pgd3', 'dlr3']);
  assert.equal(manifest.n, 12);
  const batchFiles = fs.readdirSync(path.join(examples, 'pgd3')).filter((f) => f.endsWith('.safetensors'));
  assert.deepEqual(batchFiles, ['batch-00000.safetensors', 'batch-00001.safetensors']);
  const sheet = PNG.sync.read(fs.readFileSync(path.join(examples, 'pgd3', 'contact.png')));
  assert.equal(sheet.width, 6 * (8 * 2 + 2) + 2, 'six examples (the first batch) of 8x8 at 2x, 2-pixel gaps');
  assert.equal(sheet.height, 2 * (8 * 2 + 2) + 2, 'rows x and x_adv (no pre-processor)');

  const again = (await runEval(flags({ fromExamples: examples, json: path.join(dir, 'from.json') }))) as EvaluationReport;
  assert.equal(again.cleanAccuracy, report.cleanAccuracy);
  assert.deepEqual(again.attacks.map((a) => a.robust), report.attacks.map((a) => a.robust));
  assert.deepEqual(again.attacks.map((a) => a.robustAccuracy), report.attacks.map((a) => a.robustAccuracy));

  const victim = path.join(examples, 'dlr3', 'batch-00001.safetensors');
  fs.truncateSync(victim, fs.statSync(victim).size - 10);
  await assert.rejects(runEval(flags({ fromExamples: examples })), /dlr3\/batch-00001\.safetensors: invalid safetensors file/);
  fs.rmSync(victim);
  await assert.rejects(runEval(flags({ fromExamples: examples })), /batch-00001\.safetensors' is missing/);
  await assert.rejects(runEval(flags({ fromExamples: dir })), /--from-examples: '.*' has no manifest\.json/);
});

test('--eot k: validated; every attack gets k draws (k times the forward passes); in the state key and the leaderboard', async () => {
  assert.throws(() => parseEvalFlags(flags({ eot: '0' })), /--eot: '0' is not an integer >= 1/);
  assert.throws(() => parseEvalFlags(flags({ eot: '2.5' })), /--eot: '2\.5' is not an integer >= 1/);
  assert.throws(() => parseEvalFlags(flags({ eot: '3', sanity: true })), /--eot: the sanity card runs its own attacks without EOT/);
  assert.equal(parseEvalFlags(flags()).eot, undefined);

  type Payload = EvaluationReport & { leaderboard: { eot_draws: number } };
  const read = (file: string): Payload => JSON.parse(fs.readFileSync(file, 'utf8')) as Payload;
  const plain = path.join(dir, 'eot-1.json');
  const drawn = path.join(dir, 'eot-3.json');
  await runEval(flags({ attacks: 'pgd2,square5', json: plain }));
  await runEval(flags({ attacks: 'pgd2,square5', json: drawn, eot: '3' }));
  assert.equal(read(plain).leaderboard.eot_draws, 1);
  assert.equal(read(drawn).leaderboard.eot_draws, 3);
  assert.equal(read(drawn).eotDraws, 3);
  // The fixture's model is deterministic, so the attacks make the same calls; each call is now 3 passes.
  assert.ok(read(plain).forwardPasses > 0);
  assert.equal(read(drawn).forwardPasses, 3 * read(plain).forwardPasses);
  assert.equal(readState(statePathFor(drawn)).key.eot, 3);

  // The same command with another --eot (or none) finds the state and refuses it, naming eot.
  await assert.rejects(runEval(flags({ attacks: 'pgd2,square5', json: drawn, eot: '2' })), /different evaluation; changed: eot \(EOT draws\) \(3 -> 2\)/);
  await assert.rejects(runEval(flags({ attacks: 'pgd2,square5', json: drawn })), /changed: eot \(EOT draws\) \(3 -> 1\)/);
  await assert.rejects(runEval({ ...flags(), resume: statePathFor(drawn), eot: '2' }), /--resume: '.*' was run with --eot 3, not --eot 2/);
  const resumed = (await runEval({ ...flags(), resume: statePathFor(drawn) })) as EvaluationReport;
  assert.equal(resumed.eotDraws, 3);
  // A state written before --eot existed (no eot in its key) is a run with one draw.
  const { eot: _eot, ...oldKey } = readState(statePathFor(plain)).key;
  assert.deepEqual(keyDifferences(oldKey, readState(statePathFor(plain)).key), []);
  assert.deepEqual(keyDifferences(oldKey, readState(statePathFor(drawn)).key).filter((d) => d.startsWith('eot')), ['eot (EOT draws) (1 -> 3)']);
});

test('--help says what --eot is for: randomized pre-processors; --repeat decides the outcome', () => {
  const program = new Command('jatp');
  register(program);
  const help = program.commands.find((c) => c.name() === 'eval')!.helpInformation().replace(/\s+/g, ' ');
  assert.match(help, /--eot <k>.*only for a randomized pre-processor.*decided by --repeat/);
});

test('cleanup', () => {
  fs.rmSync(dir, { recursive: true, force: true });
});
