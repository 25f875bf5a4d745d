/**
 * `npm run audit:web [-- --classifier web/model.json --preprocessor web/jatp/model.json --port 8080]`:
 * builds the audit page (runs/audit-web/site by default) and serves it on 127.0.0.1 with the
 * cross-origin-isolation headers the threaded wasm backend needs. The models given are copied in
 * and pre-filled; without them, type a model.json URL or drop the files on the page.
 */
import { parseArgs } from 'node:util';
import * as path from 'node:path';
import { buildAuditSite } from './audit-site.js';
import { serveFolder } from './static-server.js';

const USAGE = `usage: npm run audit:web -- [--classifier <model.json>] [--preprocessor <model.json>] [--out <dir>] [--port <n>] [--build-only]`;

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        classifier: { type: 'string' },
        preprocessor: { type: 'string' },
        out: { type: 'string' },
        port: { type: 'string' },
        'build-only': { type: 'boolean' },
        help: { type: 'boolean' },
      },
    }));
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${USAGE}`);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port: expected a port number, got '${values.port}'`);
  if (values.preprocessor !== undefined && values.classifier === undefined) throw new Error('--preprocessor needs --classifier too');
  const outDir = path.resolve(values.out ?? 'runs/audit-web/site');
  const { notes, query } = await buildAuditSite({ outDir, ...(values.classifier ? { classifier: values.classifier } : {}), ...(values.preprocessor ? { preprocessor: values.preprocessor } : {}) });
  for (const n of notes) console.error(`note: ${n}`);
  if (values['build-only']) {
    console.log(`jatp audit: site written to ${outDir}`);
    return;
  }
  const server = await serveFolder(outDir, port);
  console.log(`jatp audit: ${server.url}audit.html${query}`);
  process.on('SIGINT', () => void server.close().then(() => process.exit(0)));
}

main().catch((err: unknown) => {
  console.error(`error: ${(err as Error).message}`);
  process.exit(1);
});
