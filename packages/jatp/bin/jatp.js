#!/usr/bin/env node
// Launcher for the compiled CLI. It exists at install time (unlike dist/), so npm can link the
// `jatp` bin before the TypeScript build has run.
import { existsSync } from 'node:fs';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('jatp: not built yet (missing packages/jatp/dist/cli/main.js); run ./bootstrap.sh or npm run build\n');
  process.exit(1);
}
await import(main.href);
