/**
 * Interleaved A/B timing, so a ratio survives a noisy machine: after one warm-up run of each side,
 * the two sides alternate (A B A B ...), every run is a fresh measurement, and the ratio is taken
 * per pair (A_i / B_i) — a slow minute then spoils a pair, not one whole side. Reports the median
 * ratio with its min-max over pairs, and the machine (CPU model, load average) it ran on.
 */
import os from 'node:os';
import fs from 'node:fs';

export interface RatioFigures {
  /** Median over pairs of a/b (< 1: side A is faster). */
  median: number;
  min: number;
  max: number;
  pairs: number;
  aSeconds: number[];
  bSeconds: number[];
}

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Runs warm-up A, warm-up B, then `pairs` x (A, B); each side returns its own measured seconds. */
export async function interleave(pairs: number, a: () => Promise<number> | number, b: () => Promise<number> | number): Promise<RatioFigures> {
  if (!(pairs >= 1)) throw new Error(`interleave: pairs must be >= 1, got ${pairs}`);
  await a();
  await b();
  const aSeconds: number[] = [];
  const bSeconds: number[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < pairs; i++) {
    const ta = await a();
    const tb = await b();
    aSeconds.push(ta);
    bSeconds.push(tb);
    ratios.push(ta / tb);
  }
  return { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios), pairs, aSeconds, bSeconds };
}

export function formatRatio(r: RatioFigures): string {
  return `${r.median.toFixed(2)}x (min-max ${r.min.toFixed(2)}-${r.max.toFixed(2)} over ${r.pairs} pairs; ` +
    `medians ${median(r.aSeconds).toFixed(3)} s vs ${median(r.bSeconds).toFixed(3)} s)`;
}

/** CPU model as /proc/cpuinfo names it (os.cpus() truncates some), thread count and load average. */
export function machine(): { cpuModel: string; cpus: number; loadavg: number[]; date: string } {
  let cpuModel = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpuModel = m[1]!.trim();
  } catch { /* not Linux: keep os.cpus()'s name */ }
  return { cpuModel, cpus: os.cpus().length, loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100), date: new Date().toISOString() };
}
