/**
 * @module router/outlier
 * Passive resilience state of the data plane, learnt from live traffic (no probes):
 * - outlier ejection per endpoint origin: a refused/unreachable connection ejects at once, N
 *   consecutive gateway failures (5xx answers, resets, timeouts) eject too. An ejection lasts
 *   `baseEjectionMs × k` (k grows by one per repeat ejection and shrinks by one per
 *   `baseEjectionMs` spent back in service), at most `maxEjectionMs`; then the endpoint returns
 *   by itself. How many endpoints of one upstream may be out at once is capped (Envoy's
 *   `max_ejection_percent`), and the last one never is.
 * - retry budgets per upstream: retries may add at most `budgetPercent` % over the requests of
 *   the recent window (Envoy's retry budget), with a small floor so quiet services can retry.
 * The bookkeeping lives in {@link UpstreamPools}; this module holds the state and the arithmetic.
 */

export interface OutlierOptions {
  /** Gateway failures in a row that eject an endpoint (default 5). */
  consecutiveFailures: number;
  /** First ejection time (ms, default 10 s); repeat ejections last a multiple of it. */
  baseEjectionMs: number;
  /** Longest ejection (ms, default 5 min). */
  maxEjectionMs: number;
  /** Share of an upstream's endpoints that may be ejected at once (%, default 50); one always may, the last never. */
  maxEjectionPercent: number;
}

export const DEFAULT_OUTLIER: OutlierOptions = { consecutiveFailures: 5, baseEjectionMs: 10_000, maxEjectionMs: 300_000, maxEjectionPercent: 50 };

export interface RetryBudgetOptions {
  /** Length of one counting window (ms, default 10 s); the budget looks at the current and the previous one. */
  windowMs: number;
  /** Retries always allowed per window whatever the traffic (default 3), so a quiet service can still retry. */
  minRetries: number;
}

export const DEFAULT_RETRY_BUDGET: RetryBudgetOptions = { windowMs: 10_000, minRetries: 3 };

/** Router-wide tuning of passive outlier ejection and retry budgets (per-service policy comes from the spec). */
export interface ResilienceOptions {
  outlier?: Partial<OutlierOptions>;
  retryBudget?: Partial<RetryBudgetOptions>;
}

/** Default retry policy of a service whose spec says nothing. */
export const DEFAULT_RETRY_ATTEMPTS = 1;
export const DEFAULT_RETRY_BUDGET_PERCENT = 20;

/** Outlier state of one endpoint origin; survives snapshot swaps with its {@link EndpointState}. */
export class OutlierState {
  /** Gateway failures in a row (reset by any non-5xx answer). */
  failures = 0;
  ejected = false;
  /** Ejection multiplier: grows per ejection, decays while the endpoint is in service. */
  ejections = 0;
  /** When the endpoint returns (epoch ms); meaningful while ejected. */
  until = 0;
  /** When it last returned from an ejection (epoch ms; 0: never ejected). */
  returnedAt = 0;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** Length of the next ejection of `s` at `now`; updates its multiplier. */
export function nextEjectionMs(s: OutlierState, o: OutlierOptions, now: number): number {
  if (s.ejections > 0 && s.returnedAt > 0) {
    const decay = Math.floor((now - s.returnedAt) / o.baseEjectionMs);
    s.ejections = Math.max(0, s.ejections - decay);
  }
  s.ejections++;
  return Math.min(o.baseEjectionMs * s.ejections, o.maxEjectionMs);
}

/**
 * Whether one more endpoint of an upstream of `total` endpoints, `ejected` of them out already,
 * may be ejected: never the last one, always one of two or more, else up to the percentage.
 */
export function mayEject(total: number, ejected: number, maxEjectionPercent: number): boolean {
  if (ejected + 1 >= total) return false;
  return ejected + 1 <= Math.max(1, Math.floor((total * maxEjectionPercent) / 100));
}

/**
 * Retry budget of one upstream: counts requests and retries over a sliding window of two
 * fixed windows (current + previous) and allows a retry while retries stay within
 * `budgetPercent` % of requests (or under the floor).
 */
export class RetryBudget {
  #start = 0;
  #requests = 0;
  #retries = 0;
  #prevRequests = 0;
  #prevRetries = 0;
  constructor(readonly windowMs: number, readonly minRetries: number) {}

  #roll(now: number): void {
    const elapsed = now - this.#start;
    if (elapsed < this.windowMs) return;
    if (elapsed < 2 * this.windowMs) { this.#prevRequests = this.#requests; this.#prevRetries = this.#retries; this.#start += this.windowMs; }
    else { this.#prevRequests = 0; this.#prevRetries = 0; this.#start = now; }
    this.#requests = 0;
    this.#retries = 0;
  }

  /** Counts one (first-attempt) request. */
  request(now: number): void { this.#roll(now); this.#requests++; }

  /** Takes one retry from the budget when there is room; false means "do not retry". */
  tryRetry(budgetPercent: number, now: number): boolean {
    if (budgetPercent <= 0) return false;
    this.#roll(now);
    const retries = this.#retries + this.#prevRetries;
    const allowed = Math.max(this.minRetries, ((this.#requests + this.#prevRequests) * budgetPercent) / 100);
    if (retries + 1 > allowed) return false;
    this.#retries++;
    return true;
  }

  /** Nothing counted for two windows: the entry can be dropped. */
  idle(now: number): boolean { return now - this.#start >= 2 * this.windowMs; }

  /** Requests and retries in the current + previous window (for tests and metrics). */
  get counts(): { requests: number; retries: number } {
    return { requests: this.#requests + this.#prevRequests, retries: this.#retries + this.#prevRetries };
  }
}
