/** Timing shared by the training-step benches: wall time and process CPU time of one call. */

/** Wall seconds and process CPU seconds (user + system, all threads) that one call took. */
export type Timed = { seconds: number; cpuSeconds: number };

/** Runs `step` once and returns its wall and CPU time; CPU time is steadier than wall time on a shared machine. */
export function timed(step: () => void): Timed {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  step();
  const seconds = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  return { seconds, cpuSeconds: (c.user + c.system) / 1e6 };
}
