/** Exponential backoff for redialling bootstrap peers. Pure. */

export interface BackoffParams {
  initialMs: number;
  maxMs: number;
  factor: number;
  /** Fraction of the delay randomised (0..1), so restarted peers do not redial in lock-step. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffParams = { initialMs: 250, maxMs: 10_000, factor: 2, jitter: 0.2 };

/** Delay before redial attempt number `attempt` (0-based). `random` returns values in [0, 1). */
export function backoffDelay(attempt: number, p: BackoffParams = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const base = Math.min(p.maxMs, p.initialMs * Math.pow(p.factor, Math.max(0, attempt)));
  const spread = base * p.jitter;
  return Math.max(0, Math.round(base - spread + 2 * spread * random()));
}
