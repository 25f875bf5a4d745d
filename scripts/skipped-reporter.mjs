// A node:test reporter that records every skipped or todo test as one JSON line
// ({ file, name, reason, kind }), for scripts/list-skipped.mjs to print at the end of a test run.
// It is added next to the usual reporter (scripts/test.sh), so the normal output is unchanged.
export default async function* skippedReporter(source) {
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const { skip, todo, name, file } = event.data;
    if (skip === undefined && todo === undefined) continue;
    const kind = skip !== undefined ? 'skip' : 'todo';
    const reason = kind === 'skip' ? skip : todo;
    yield `${JSON.stringify({ file: file ?? null, name, kind, reason: typeof reason === 'string' && reason.trim() ? reason : null })}\n`;
  }
}
