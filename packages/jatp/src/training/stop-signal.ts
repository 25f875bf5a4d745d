/**
 * Graceful stop of a training run: Ctrl-C (SIGINT) and SIGTERM (what schedulers, `kill` and
 * `docker stop` send) both ask the loop to finish the current step, write a checkpoint and return
 * `interrupted`; the same signal again exits at once without a checkpoint.
 */
export type StopSignalName = 'SIGINT' | 'SIGTERM';

const SIGNALS: readonly StopSignalName[] = ['SIGINT', 'SIGTERM'];

/** Shell convention: 128 + the signal's number. */
const EXIT_CODE: Readonly<Record<StopSignalName, number>> = { SIGINT: 130, SIGTERM: 143 };

export class StopSignal {
  /** The signal that asked to stop, once one has. */
  received: StopSignalName | undefined;
  private readonly handlers = new Map<StopSignalName, () => void>();

  /** Installs the handlers unless `enabled` is false (then `requested` stays false). */
  constructor(enabled: boolean, say: (message: string) => void) {
    if (!enabled) return;
    for (const signal of SIGNALS) {
      const handler = (): void => {
        if (this.received !== undefined) process.exit(EXIT_CODE[signal]);
        this.received = signal;
        say(`${signal}: writing a checkpoint after this step (send ${signal === 'SIGINT' ? 'Ctrl-C' : signal} again to quit without it)`);
      };
      this.handlers.set(signal, handler);
      process.on(signal, handler);
    }
  }

  get requested(): boolean {
    return this.received !== undefined;
  }

  /** Gives the signals back to whoever handled them before. */
  dispose(): void {
    for (const [signal, handler] of this.handlers) process.off(signal, handler);
    this.handlers.clear();
  }
}

/** A pending signal can only run between steps if the loop yields to the event loop. */
export function yieldToSignals(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}

/** Exit status of a command whose run stopped early: 130 (Ctrl-C, --stop-after-steps) or 143 (SIGTERM). */
export function stoppedExitCode(stoppedBy: StopSignalName | 'stop-after-steps' | undefined): number {
  return stoppedBy === 'SIGTERM' ? EXIT_CODE.SIGTERM : EXIT_CODE.SIGINT;
}
