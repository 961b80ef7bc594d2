/**
 * @module runtime/local/timing
 * Restart backoff and an abortable sleep. Every timer here is unref'd, so none keeps the process
 * alive, and a sleep clears its timer when its signal aborts.
 */

/** First restart delay after a crash (ms). */
export const BACKOFF_INITIAL_MS = 200;
/** Longest restart delay (ms). */
export const BACKOFF_MAX_MS = 10_000;
/** An instance healthy this long (ms) before it crashes restarts with the initial delay again. */
export const BACKOFF_RESET_AFTER_MS = 30_000;

/** Delay (ms) before restart number `step` (0-based): 200, 400, 800… capped at 10 000. */
export function backoffDelay(step: number): number {
  return Math.min(BACKOFF_INITIAL_MS * 2 ** Math.max(0, step), BACKOFF_MAX_MS);
}

/** Resolves after `ms` milliseconds, or as soon as `signal` aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    timer.unref();
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** A short human text for an abort reason (an Error's message, or the value). */
export function reasonText(reason: unknown): string {
  return reason instanceof Error ? reason.message : String(reason);
}
