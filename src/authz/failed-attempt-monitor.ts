// Counts denied attempts per identity and raises an alert when one identity has more
// than `threshold` within `windowMs` (policy §8: "failed access attempts > 3 in 5
// minutes"). One alert per burst: the identity alerts again only after its count has
// fallen back to the threshold or below. The clock is injectable for tests; the number
// of identities tracked is bounded so a flood of distinct callers cannot grow memory.
import { LRUCache } from 'lru-cache';

export interface FailedAttempt {
  readonly subject: string;
  readonly operation: string;
  /** Absent when the operation was refused on every key (e.g. ListKeys). */
  readonly keyId?: string;
  readonly reason: string;
}

export interface FailedAttemptAlert {
  readonly subject: string;
  /** Denials within the window, this one included. */
  readonly attempts: number;
  readonly windowMs: number;
  /** The attempt that crossed the threshold. */
  readonly last: FailedAttempt;
}

export interface FailedAttemptMonitorOptions {
  readonly threshold: number;
  readonly windowMs: number;
  readonly onAlert: (alert: FailedAttemptAlert) => void;
  readonly now?: () => number;
  readonly maxIdentities?: number;
}

interface History {
  /** Times of the denials still inside the window, oldest first. */
  times: number[];
  alerted: boolean;
}

export class FailedAttemptMonitor {
  readonly #threshold: number;
  readonly #windowMs: number;
  readonly #onAlert: (alert: FailedAttemptAlert) => void;
  readonly #now: () => number;
  readonly #histories: LRUCache<string, History>;

  constructor(options: FailedAttemptMonitorOptions) {
    this.#threshold = options.threshold;
    this.#windowMs = options.windowMs;
    this.#onAlert = options.onAlert;
    this.#now = options.now ?? Date.now;
    this.#histories = new LRUCache({ max: options.maxIdentities ?? 10_000 });
  }

  /** Records one denial; returns the alert it raised, if any. */
  record(attempt: FailedAttempt): FailedAttemptAlert | undefined {
    const now = this.#now();
    let history = this.#histories.get(attempt.subject);
    if (history === undefined) {
      history = { times: [], alerted: false };
      this.#histories.set(attempt.subject, history);
    }
    const since = now - this.#windowMs;
    while (history.times.length > 0 && history.times[0]! <= since) history.times.shift();
    if (history.times.length <= this.#threshold) history.alerted = false;
    history.times.push(now);
    // Only the last threshold+1 times matter for the decision.
    if (history.times.length > this.#threshold + 1) history.times.shift();
    if (history.times.length <= this.#threshold || history.alerted) return undefined;
    history.alerted = true;
    const alert: FailedAttemptAlert = { subject: attempt.subject, attempts: history.times.length, windowMs: this.#windowMs, last: attempt };
    this.#onAlert(alert);
    return alert;
  }
}
