/**
 * Progress reporting for the training loop, on stderr (stdout is for results). On a TTY: one
 * redrawn bar per epoch (steps, images/s, loss, ETA); otherwise plain lines every N steps and at
 * the end of each epoch, which read well in CI logs and `nohup` files.
 */

export interface StepProgress {
  epoch: number; // 1-based, for humans
  epochs: number;
  step: number; // steps done in this epoch
  stepsPerEpoch: number;
  imagesPerSecond: number;
  /** Running mean of the recipe's metrics over this epoch so far. */
  metrics: Record<string, number>;
  etaSeconds: number;
}

/** Where the training loop reports progress (per step, per epoch, messages). */
export interface ProgressSink {
  step(p: StepProgress): void;
  epochEnd(epoch: number, epochs: number, metrics: Record<string, number>, seconds: number): void;
  message(text: string): void;
}

/** A ProgressSink that reports nothing. */
export const silentProgress: ProgressSink = { step() {}, epochEnd() {}, message() {} };

function fmtNum(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(2) : v.toFixed(4);
}

function fmtMetrics(m: Record<string, number>): string {
  return Object.entries(m)
    .map(([k, v]) => `${k} ${fmtNum(v)}`)
    .join('  ');
}

function fmtDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '--:--';
  const t = Math.round(s);
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = t % 60;
  const mm = String(m).padStart(2, '0');
  const ss = String(sec).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/**
 * The default sink: a bar on a TTY; otherwise plain lines every `lineEvery` steps (default: a tenth
 * of an epoch) and at least every `lineSeconds` (default 30 s), so slow runs still show life.
 */
export function stderrProgress(opts: { tty?: boolean; lineEvery?: number; lineSeconds?: number } = {}): ProgressSink {
  const stream = process.stderr;
  const tty = opts.tty ?? stream.isTTY === true;
  const lineSeconds = opts.lineSeconds ?? 30;
  let lastLine = Date.now();
  let barOpen = false;
  const closeBar = (): void => {
    if (barOpen) stream.write('\n');
    barOpen = false;
  };
  return {
    step(p) {
      if (tty) {
        const width = 24;
        const filled = Math.round((width * p.step) / p.stepsPerEpoch);
        const bar = '#'.repeat(filled) + '.'.repeat(width - filled);
        const line = `epoch ${p.epoch}/${p.epochs} [${bar}] ${p.step}/${p.stepsPerEpoch}  ${p.imagesPerSecond.toFixed(1)} img/s  ${fmtMetrics(p.metrics)}  ETA ${fmtDuration(p.etaSeconds)}`;
        const cols = stream.columns ?? 120;
        stream.write(`\r${line.slice(0, cols - 1)}\x1b[K`);
        barOpen = true;
      } else if (
        p.step % (opts.lineEvery ?? Math.max(1, Math.round(p.stepsPerEpoch / 10))) === 0 ||
        p.step === p.stepsPerEpoch ||
        Date.now() - lastLine >= lineSeconds * 1000
      ) {
        lastLine = Date.now();
        stream.write(
          `epoch ${p.epoch}/${p.epochs} step ${p.step}/${p.stepsPerEpoch}  ${p.imagesPerSecond.toFixed(1)} img/s  ${fmtMetrics(p.metrics)}  ETA ${fmtDuration(p.etaSeconds)}\n`,
        );
      }
    },
    epochEnd(epoch, epochs, metrics, seconds) {
      closeBar();
      stream.write(`epoch ${epoch}/${epochs} done in ${fmtDuration(seconds)}  ${fmtMetrics(metrics)}\n`);
    },
    message(text) {
      closeBar();
      stream.write(`${text}\n`);
    },
  };
}
