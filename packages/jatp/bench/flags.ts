/** Command-line flags shared by the toolkit's benches: positive integers with a default. */

/** The positive integer after `name` in `args`, or `fallback` when the flag is absent; anything else is an error naming the flag. */
export function positiveIntFlag(args: readonly string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(args[i + 1]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name}: expected a positive integer, got ${args[i + 1]}`);
  return v;
}

/** The value after `name` in `args`, or undefined when the flag is absent; a flag with no value is an error naming it. */
export function stringFlag(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith('--')) throw new Error(`${name}: expected a value`);
  return v;
}
