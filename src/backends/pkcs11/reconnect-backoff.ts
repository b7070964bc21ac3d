// The delays between attempts to reopen a lost token: exponential, capped, with jitter so
// that several daemons losing one network HSM do not hammer it in step. The jitter source
// is injectable so tests get exact delays.

export interface BackoffOptions {
  /** The first delay, in milliseconds. */
  readonly initialMs: number;
  /** The cap, in milliseconds. */
  readonly maxMs: number;
  /** A number in [0, 1); the delay is scaled into [50 %, 100 %] of its nominal value. */
  readonly jitter?: () => number;
}

export class ReconnectBackoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #jitter: () => number;
  #attempt = 0;

  constructor(options: BackoffOptions) {
    if (!(options.initialMs > 0) || !(options.maxMs >= options.initialMs)) {
      throw new RangeError('backoff needs 0 < initialMs <= maxMs');
    }
    this.#initialMs = options.initialMs;
    this.#maxMs = options.maxMs;
    this.#jitter = options.jitter ?? Math.random;
  }

  /** Attempts made since the last reset. */
  get attempts(): number {
    return this.#attempt;
  }

  /** The delay before the next attempt: initial × 2^n, capped, jittered. */
  next(): number {
    const nominal = Math.min(this.#maxMs, this.#initialMs * 2 ** Math.min(this.#attempt, 52));
    this.#attempt++;
    return Math.round(nominal * (0.5 + 0.5 * this.#jitter()));
  }

  reset(): void {
    this.#attempt = 0;
  }
}
