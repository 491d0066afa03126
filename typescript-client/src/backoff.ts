// Reconnect delays: exponential with "full jitter" (a uniform delay in
// [0, ceiling], AWS's recommendation), the same policy and defaults as the
// Rust SDK (client-sdk/src/backoff.rs), so a mass disconnect does not come
// back as a thundering herd.

/**
 * The reconnect backoff. Attempt `n` (from 1) waits a random time in
 * `[0, min(maxMs, initialMs * factor^(n-1))]` with `jitter`, or exactly that
 * ceiling without. The attempt count starts over once a connection stayed up
 * for `resetAfterMs`.
 *
 * Defaults (those of the Rust SDK): 500 ms initial, 30 000 ms maximum,
 * factor 2, full jitter, reset after 10 000 ms connected.
 */
export interface BackoffOptions {
  /** The ceiling of the first delay, in milliseconds (default 500). */
  initialMs?: number;
  /** The largest ceiling, in milliseconds (default 30 000). */
  maxMs?: number;
  /** What each ceiling is multiplied by (default 2; values below 1 count as 1). */
  factor?: number;
  /** Whether to randomise each delay in `[0, ceiling]` (default `true`). */
  jitter?: boolean;
  /** How long a connection must stay up before the attempt count starts over, in milliseconds (default 10 000). */
  resetAfterMs?: number;
  /** The random source, `[0, 1)` (default `Math.random`); for tests. */
  random?: () => number;
}

/** The defaults of {@link BackoffOptions}. */
export const DEFAULT_BACKOFF = {
  initialMs: 500,
  maxMs: 30_000,
  factor: 2,
  jitter: true,
  resetAfterMs: 10_000,
} as const;

/** The ceiling of attempt `attempt` (from 1), in milliseconds. */
export function backoffCeiling(attempt: number, options: BackoffOptions = {}): number {
  const initial = options.initialMs ?? DEFAULT_BACKOFF.initialMs;
  const max = options.maxMs ?? DEFAULT_BACKOFF.maxMs;
  const factor = Math.max(1, options.factor ?? DEFAULT_BACKOFF.factor);
  // Math.min first: factor^(n-1) overflows to Infinity for large n, which min handles.
  return Math.min(max, initial * factor ** Math.max(0, attempt - 1));
}

/** The delay before attempt `attempt` (from 1), in milliseconds. */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const ceiling = backoffCeiling(attempt, options);
  if (!(options.jitter ?? DEFAULT_BACKOFF.jitter)) return ceiling;
  return Math.floor((options.random ?? Math.random)() * (ceiling + 1));
}
