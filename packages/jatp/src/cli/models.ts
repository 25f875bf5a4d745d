/**
 * `jatp models ...`: the model registry and weight conversions.
 *
 *   jatp models list [--json]                                  architectures, defaults, parameter counts
 *   jatp models import-pytorch --in ckpt.safetensors --out run/  PyTorch ResNet-18 -> run/model.safetensors + .json
 *   jatp models export-pytorch --model run/ --out ckpt.safetensors
 *   jatp models export-tfjs --model run/ [--preprocessor run2/] --out web/   browser model.json
 *
 * PyTorch checkpoints are pickles and are never read here: convert them to safetensors first with
 * the Python snippet printed by `jatp models import-pytorch --help`.
 */
import * as path from 'node:path';
import type { Command } from 'commander';
import {
  initBackend,
  listArchInfo,
  isClassifier,
  loadNetwork,
  saveNetwork,
  exportPytorch,
  importPytorchResnet18,
  PYTORCH_TO_SAFETENSORS,
  exportTfjsModel,
  exportTfjsPipeline,
  resolveWeightsFile,
  type ArchKind,
  type Network,
} from '../index.js';
import { parseInteger } from './flags.js';
import { checkOutputDir, checkOutputPath } from './output-paths.js';

export interface ArchRow {
  readonly arch: string;
  readonly kind: ArchKind;
  readonly params: number;
  readonly defaults: Readonly<Record<string, unknown>>;
  readonly description: string;
}

/** `jatp models list`: builds each architecture with its defaults and counts trainable parameters. */
export async function modelsList(): Promise<ArchRow[]> {
  await initBackend();
  return listArchInfo().map((info) => {
    const net = info.build({});
    try {
      return { arch: info.name, kind: info.kind, params: net.countParams(), defaults: info.defaults, description: info.description };
    } finally {
      net.dispose();
    }
  });
}

export function formatList(rows: readonly ArchRow[]): string {
  const table = [
    ['arch', 'kind', 'params', 'defaults', 'description'],
    ...rows.map((r) => [
      r.arch,
      r.kind,
      r.params.toLocaleString('en-US'),
      Object.entries(r.defaults).map(([k, v]) => `${k}=${String(v)}`).join(' '),
      r.description,
    ]),
  ];
  const widths = table[0]!.map((_, c) => Math.max(...table.map((row) => row[c]!.length)));
  return table.map((row) => row.map((cell, c) => (c === 2 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ').trimEnd()).join('\n');
}

export interface ImportResult {
  readonly weights: string;
  readonly sidecar: string;
  readonly arch: string;
  readonly options: Readonly<Record<string, unknown>>;
  readonly params: number;
}

/** `jatp models import-pytorch`: a PyTorch-named ResNet-18 safetensors -> `<out>/model.safetensors` (+ sidecar). */
export async function modelsImportPytorch(o: { in: string; out: string; inputSize?: number; dataset?: string }): Promise<ImportResult> {
  checkOutputDir(o.out, '--out');
  await initBackend();
  const net = await importPytorchResnet18(o.in, o.inputSize === undefined ? {} : { inputSize: o.inputSize });
  try {
    const weights = path.join(o.out, 'model.safetensors');
    await saveNetwork(net, weights, {
      ...(o.dataset === undefined ? {} : { dataset: o.dataset }),
      recipe: { name: 'pytorch-import', source: path.resolve(o.in) },
    });
    return { weights, sidecar: path.join(o.out, 'model.json'), arch: net.arch, options: net.options, params: net.countParams() };
  } finally {
    net.dispose();
  }
}

async function loadFrom(given: string, flag: string): Promise<Network> {
  return loadNetwork(resolveWeightsFile(given, flag));
}

/** `jatp models export-pytorch`: one of our ResNet-18 weight files -> PyTorch names and layouts. */
export async function modelsExportPytorch(o: { model: string; out: string }): Promise<{ out: string; arch: string }> {
  checkOutputPath(o.out, '--out');
  await initBackend();
  const net = await loadFrom(o.model, '--model');
  try {
    await exportPytorch(net, o.out);
    return { out: o.out, arch: net.arch };
  } finally {
    net.dispose();
  }
}

/** `jatp models export-tfjs`: a classifier and/or pre-processor -> `<out>/model.json` + weight shard. */
export async function modelsExportTfjs(o: { model?: string; preprocessor?: string; out: string; clamp: boolean }): Promise<{ modelJson: string; bytes: number; networks: string[] }> {
  if (o.model === undefined && o.preprocessor === undefined) throw new Error('export-tfjs: give --model, --preprocessor, or both');
  checkOutputDir(o.out, '--out');
  await initBackend();
  const nets: Network[] = [];
  try {
    const classifier = o.model === undefined ? undefined : await loadFrom(o.model, '--model');
    if (classifier !== undefined) nets.push(classifier);
    const pre = o.preprocessor === undefined ? undefined : await loadFrom(o.preprocessor, '--preprocessor');
    if (pre !== undefined) nets.push(pre);
    let result: { modelJson: string; bytes: number };
    if (classifier !== undefined && pre !== undefined) {
      if (!isClassifier(classifier)) throw new Error(`--model: '${o.model}' holds a ${classifier.arch}, not a classifier`);
      result = await exportTfjsPipeline(classifier, pre, o.out, { clamp: o.clamp });
    } else {
      result = await exportTfjsModel((classifier ?? pre)!, o.out);
    }
    return { ...result, networks: nets.map((n) => n.arch) };
  } finally {
    nets.forEach((n) => n.dispose());
  }
}

export function register(program: Command): void {
  const models = program.command('models').description('model registry, weight import/export (PyTorch safetensors, tfjs model.json)');

  models
    .command('list')
    .description('list architectures with their default options and trainable parameter counts')
    .option('--json', 'machine-readable output')
    .action(async (o: { json?: boolean }) => {
      const rows = await modelsList();
      process.stdout.write(`${o.json ? JSON.stringify(rows, null, 2) : formatList(rows)}\n`);
    });

  models
    .command('import-pytorch')
    .description('import a PyTorch ResNet-18 (TRADES/MART naming, safetensors) as our weights + sidecar')
    .requiredOption('--in <file>', 'PyTorch state dict as .safetensors (conv1.weight, layer1.0.bn1.running_mean, ..., linear.weight)')
    .requiredOption('--out <dir>', 'run folder to write model.safetensors and model.json into')
    .option('--input-size <n>', 'image side the network will see (32 for CIFAR-10/SVHN, 28 for (Fashion-)MNIST)', (v: string) => parseInteger('--input-size', v, { min: 1 }), 32)
    .option('--dataset <name>', 'dataset the checkpoint was trained on, recorded in the sidecar')
    .option('--json', 'machine-readable output')
    .addHelpText(
      'after',
      `\nPyTorch .pt/.pth files are pickles and are never loaded. Convert one with python + torch:\n\n${PYTORCH_TO_SAFETENSORS}\n\nExample:\n  jatp models import-pytorch --in trades-resnet18.safetensors --out runs/trades --dataset cifar10`,
    )
    .action(async (o: { in: string; out: string; inputSize: number; dataset?: string; json?: boolean }) => {
      process.stderr.write(`importing ${o.in} ...\n`);
      const r = await modelsImportPytorch({ in: o.in, out: o.out, inputSize: o.inputSize, ...(o.dataset === undefined ? {} : { dataset: o.dataset }) });
      process.stdout.write(
        o.json ? `${JSON.stringify(r, null, 2)}\n` : `${r.arch} ${JSON.stringify(r.options)} (${r.params.toLocaleString('en-US')} params) -> ${r.weights}\n`,
      );
    });

  models
    .command('export-pytorch')
    .description('write one of our ResNet-18 weight files as a PyTorch-named, PyTorch-layout safetensors state dict')
    .requiredOption('--model <path>', 'run folder or .safetensors weights file (with its .json sidecar)')
    .requiredOption('--out <file>', 'output .safetensors (load in python: see the README)')
    .option('--json', 'machine-readable output')
    .action(async (o: { model: string; out: string; json?: boolean }) => {
      const r = await modelsExportPytorch(o);
      process.stdout.write(o.json ? `${JSON.stringify(r, null, 2)}\n` : `${r.arch} -> ${r.out}\n`);
    });

  models
    .command('export-tfjs')
    .description('export a classifier, a pre-processor, or F(x) = T(clip01(P(x))) as a browser tfjs model.json')
    .option('--model <path>', 'classifier run folder or weights file')
    .option('--preprocessor <path>', 'pre-processor run folder or weights file')
    .option('--no-clamp', 'with both: feed P(x) to T unclamped (default clamps to [0, 1], spec §2.8)')
    .requiredOption('--out <dir>', 'folder for model.json and its weight shard')
    .option('--json', 'machine-readable output')
    .addHelpText('after', "\nIn the browser: const m = await tf.loadLayersModel('web/model.json'); m.predict(x /* NHWC in [0,1] */)\n\nExample:\n  jatp models export-tfjs --model runs/trades --preprocessor runs/jatp --out web/")
    .action(async (o: { model?: string; preprocessor?: string; out: string; clamp: boolean; json?: boolean }) => {
      const r = await modelsExportTfjs(o);
      process.stdout.write(o.json ? `${JSON.stringify(r, null, 2)}\n` : `${r.networks.join(' + ')} -> ${r.modelJson} (${r.bytes.toLocaleString('en-US')} weight bytes)\n`);
    });
}
