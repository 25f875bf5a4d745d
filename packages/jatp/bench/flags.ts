/** Command-line flags shared by the toolkit's benches: positive integers with a default. */

/** The positive integer after `name` in `args`, or `fallback` when the flag is absent; anything else is an error naming the flag. */
export function positiveIntFlag(args: readonly string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(args[i + 1]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name}: expected a positive integer, got ${args[i + 1]}`);
  return v;
}
