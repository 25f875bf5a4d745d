/**
 * `npm run demo:web [-- --classifier <run|export> --preprocessor <run|export> --baseline <run|export> ...]`:
 * builds the demo site and serves it on 127.0.0.1 (a free port unless --port), printing the URL.
 *
 * Without --classifier it uses the CPU-scale models under runs/demo-web/ (a TRADES small-CNN target,
 * a JATP purifier trained against it and an APE-G baseline trained on oblivious examples of it, on
 * Fashion-MNIST, `cpu` presets), training whatever is missing first (or finishing an interrupted run
 * with --resume). Paths are relative to the folder the command was started from.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { buildSite, PACKAGE_DIR } from './site.js';
import { serveFolder } from './static-server.js';

const REPO = path.resolve(PACKAGE_DIR, '..', '..');
const CLI = path.join(REPO, 'packages', 'jatp', 'dist', 'cli', 'main.js');
const USAGE = `usage: npm run demo:web -- [--classifier <run|export dir>] [--preprocessor <run|export dir>] [--baseline <run|export dir>]
       [--dataset <name>] [--data-dir <dir>] [--images-per-class <n>] [--out <site dir>] [--port <n>] [--build-only]
--preprocessor is the defense under test (JATP), --baseline an obliviously-trained one (APE-G, HGD) for comparison.
Without --classifier: trains (once) and uses runs/demo-web/target (TRADES small-CNN), runs/demo-web/jatp
and runs/demo-web/apeg.`;

function jatp(args: string[]): void {
  process.stderr.write(`demo:web: jatp ${args.join(' ')}\n`);
  const r = spawnSync(process.execPath, [CLI, ...args], { stdio: 'inherit', cwd: REPO });
  if (r.status !== 0) throw new Error(`demo:web: 'jatp ${args[0]}' failed (exit ${r.status ?? r.signal})`);
}

/** The default CPU-scale models: trained when absent, resumed when a run was interrupted. */
function defaultModels(root: string): { classifier: string; preprocessor: string; baseline: string } {
  const target = path.join(root, 'target');
  const purifier = path.join(root, 'jatp');
  const baseline = path.join(root, 'apeg');
  const common = ['--dataset', 'fashion-mnist', '--preset', 'cpu'];
  if (existsSync(path.join(target, 'config.json'))) jatp(['train-target', '--resume', target]);
  else jatp(['train-target', ...common, '--recipe', 'trades', '--out', target]);
  if (existsSync(path.join(purifier, 'config.json'))) jatp(['train-defense', '--resume', purifier]);
  else jatp(['train-defense', '--method', 'jatp', '--target', target, ...common, '--eps', '0.1', '--out', purifier]);
  // APE-G is the cheapest baseline on the cpu preset (oblivious PGD-10 examples, cached, then a small GAN).
  if (existsSync(path.join(baseline, 'config.json'))) jatp(['train-defense', '--resume', baseline]);
  else jatp(['train-defense', '--method', 'apeg', '--target', target, ...common, '--eps', '0.1', '--out', baseline]);
  return { classifier: target, preprocessor: purifier, baseline };
}

function positiveInt(flag: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${flag}: expected a non-negative integer, got '${v}'`);
  return n;
}

/** The command-line flags; an unknown or malformed one is reported with the usage. */
function parseFlags() {
  try {
    return parseArgs({
      options: {
        classifier: { type: 'string' },
        preprocessor: { type: 'string' },
        baseline: { type: 'string' },
        dataset: { type: 'string' },
        'data-dir': { type: 'string' },
        'images-per-class': { type: 'string' },
        out: { type: 'string' },
        port: { type: 'string' },
        'build-only': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (err) {
    throw new Error(`demo:web: ${(err as Error).message}\n${USAGE}`);
  }
}

async function main(): Promise<void> {
  const values = parseFlags();
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const cwd = process.env['INIT_CWD'] ?? process.cwd();
  const at = (p: string): string => path.resolve(cwd, p);
  for (const flag of ['preprocessor', 'baseline'] as const) {
    if (values[flag] !== undefined && values.classifier === undefined) throw new Error(`--${flag} needs --classifier too`);
  }
  const models = values.classifier === undefined
    ? defaultModels(path.join(REPO, 'runs', 'demo-web'))
    : {
        classifier: at(values.classifier),
        ...(values.preprocessor === undefined ? {} : { preprocessor: at(values.preprocessor) }),
        ...(values.baseline === undefined ? {} : { baseline: at(values.baseline) }),
      };
  const outDir = values.out === undefined ? path.join(REPO, 'runs', 'demo-web', 'site') : at(values.out);
  const config = await buildSite({
    outDir,
    ...models,
    ...(values.dataset === undefined ? {} : { dataset: values.dataset }),
    ...(values['data-dir'] === undefined ? {} : { dataDir: at(values['data-dir']) }),
    imagesPerClass: Math.max(1, positiveInt('--images-per-class', values['images-per-class'], 1)),
  });
  process.stderr.write(`demo:web: site in ${outDir} (${config.images.length} ${config.dataset} test images)\n`);
  if (values['build-only']) return;
  const server = await serveFolder(outDir, positiveInt('--port', values.port, 0));
  process.stdout.write(`jatp demo: ${server.url}  (Ctrl-C to stop)\n`);
  const stop = (): void => void server.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
});
