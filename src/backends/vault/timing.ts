// The clock, timers and randomness the Vault backend's resilience runs on (backoff,
// circuit breaker, token renewal, key polling), injectable so that tests can drive them
// without waiting. Timers never keep the process alive.

export interface Timing {
  /** Milliseconds, monotonic enough for deadlines (Date.now by default). */
  now(): number;
  /** Calls `fn` after `ms`; returns a function that cancels it. */
  schedule(fn: () => void, ms: number): () => void;
  /** A number in [0, 1), for jitter. */
  random(): number;
}

export const systemTiming: Timing = {
  now: () => Date.now(),
  schedule: (fn, ms) => {
    const timer = setTimeout(fn, Math.max(0, ms));
    timer.unref();
    return () => clearTimeout(timer);
  },
  random: () => Math.random(),
};

/** Resolves after `ms` on `timing`'s clock. */
export function sleep(timing: Timing, ms: number): Promise<void> {
  return new Promise((resolve) => {
    timing.schedule(resolve, ms);
  });
}
