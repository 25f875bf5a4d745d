/**
 * What the audit card says about an eval JSON: accuracies with Wilson 95 % intervals, and the
 * gradient-masking checks that apply to the attacks that were run. Pure functions of the JSON, so
 * they are tested in Node on the toolkit's own output.
 */

/** The part of a `jatp eval --json` document the card reads. */
export interface CardInput {
  readonly n: number;
  readonly eps: number;
  readonly cleanAccuracy: number;
  readonly unionRobustAccuracy: number;
  readonly clean: readonly boolean[];
  readonly attacks: readonly { attack: string; robustAccuracy: number; robust: readonly boolean[]; stages?: readonly { name: string; robustAccuracy: number }[] }[];
}

/** Wilson score interval of k successes in n at 95 % (z = 1.96); [0, 1] when n = 0. */
export function wilson(k: number, n: number, z = 1.959964): [number, number] {
  if (n === 0) return [0, 1];
  const p = k / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

export interface CardRow {
  readonly label: string;
  readonly accuracy: number;
  readonly count: number;
  readonly interval: [number, number];
}

export function cardRows(r: CardInput): CardRow[] {
  const row = (label: string, accuracy: number): CardRow => {
    const count = Math.round(accuracy * r.n);
    return { label, accuracy, count, interval: wilson(count, r.n) };
  };
  const rows = [row('clean', r.cleanAccuracy)];
  for (const a of r.attacks) {
    rows.push(row(a.attack, a.robustAccuracy));
    for (const s of a.stages ?? []) rows.push(row(`  after ${s.name}`, s.robustAccuracy));
  }
  if (r.attacks.length > 1) rows.push(row('union of attacks', r.unionRobustAccuracy));
  return rows;
}

export interface CardCheck {
  readonly status: 'pass' | 'warn';
  readonly text: string;
}

const GRADIENT_FREE = /^square/;

/** The sanity checks that apply to what was run (gradient masking shows as these failing). */
export function cardChecks(r: CardInput): CardCheck[] {
  const checks: CardCheck[] = [];
  const pct = (v: number): string => `${(100 * v).toFixed(1)} %`;
  if (r.attacks.length === 0) return checks;
  const above = r.attacks.filter((a) => a.robustAccuracy > r.cleanAccuracy + 1e-12);
  checks.push(above.length === 0 ? { status: 'pass', text: 'every robust accuracy is at most the clean accuracy' } : { status: 'warn', text: `robust accuracy above clean for ${above.map((a) => a.attack).join(', ')}: the evaluation is broken` });
  // Square uses no gradients: when it fools images that every gradient attack left standing, the
  // gradients were not showing the way (masked or obfuscated), and the gradient numbers overstate robustness.
  const gradient = r.attacks.filter((a) => !GRADIENT_FREE.test(a.attack) && a.attack !== 'aa');
  const squares = r.attacks.filter((a) => GRADIENT_FREE.test(a.attack));
  if (gradient.length > 0 && squares.length > 0) {
    const gradRobust = r.clean.map((c, i) => c && gradient.every((a) => a.robust[i]));
    const extra = gradRobust.filter((g, i) => g && squares.some((s) => !s.robust[i])).length;
    checks.push(
      extra === 0
        ? { status: 'pass', text: 'the gradient-free Square attack fooled no image that the gradient attacks missed' }
        : { status: 'warn', text: `Square (no gradients) fooled ${extra} image${extra > 1 ? 's' : ''} that ${gradient.map((a) => a.attack).join(', ')} did not: a sign of masked gradients; trust the union, not the gradient attacks alone` },
    );
  }
  for (const a of r.attacks) {
    const stages = a.stages ?? [];
    const sq = stages.findIndex((s) => s.name === 'square');
    if (sq > 0) {
      const before = stages[sq - 1]!.robustAccuracy;
      const after = stages[sq]!.robustAccuracy;
      checks.push(
        after < before
          ? { status: 'warn', text: `in AutoAttack, Square lowered the accuracy after the gradient stages (${pct(before)} → ${pct(after)}): the gradient attacks were beaten by a gradient-free one, a sign of masked gradients` }
          : { status: 'pass', text: 'in AutoAttack, Square found nothing after the gradient stages' },
      );
    }
    for (let k = 1; k < stages.length; k++) {
      if (stages[k]!.robustAccuracy > stages[k - 1]!.robustAccuracy + 1e-12) checks.push({ status: 'warn', text: `AutoAttack's accuracy rose between ${stages[k - 1]!.name} and ${stages[k]!.name}: the evaluation is broken` });
    }
  }
  if (r.eps > 0 && r.cleanAccuracy > 0 && r.attacks.every((a) => Math.abs(a.robustAccuracy - r.cleanAccuracy) < 1e-12)) {
    checks.push({ status: 'warn', text: `no attack changed a single decision at ε = ${r.eps}: either the model is robust there or its gradients are masked; a much larger ε should bring the accuracy to 0` });
  }
  return checks;
}
