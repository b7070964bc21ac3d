// The faults the test Vault can inject, each on for a duration or until cleared: down
// (every connection is reset), sealed (503), rate limited (429), extra latency, the next
// N requests answered with a given status, or their connections dropped mid-request.

export interface ScriptedFailure {
  readonly status: number;
  readonly errors: readonly string[];
}

export class FaultInjector {
  #downUntil = 0;
  #sealedUntil = 0;
  #rateLimitedUntil = 0;
  #latencyMs = 0;
  #dropNext = 0;
  readonly #failNext: ScriptedFailure[] = [];
  /** Called when the server goes down, so it can reset open connections. */
  onDown: () => void = () => {};

  /** Every connection is reset at once, for `ms` (or until clear() when omitted). */
  down(ms?: number): void {
    this.#downUntil = ms === undefined ? Number.POSITIVE_INFINITY : Date.now() + ms;
    this.onDown();
  }

  /** Every request is answered 503 {"errors":["Vault is sealed"]}. */
  sealed(ms?: number): void {
    this.#sealedUntil = ms === undefined ? Number.POSITIVE_INFINITY : Date.now() + ms;
  }

  rateLimited(ms?: number): void {
    this.#rateLimitedUntil = ms === undefined ? Number.POSITIVE_INFINITY : Date.now() + ms;
  }

  latency(ms: number): void {
    this.#latencyMs = ms;
  }

  /** The next `n` requests (logins included) get `status` and `errors`. */
  failNext(n: number, status: number, errors: readonly string[] = [status >= 500 ? 'internal error' : 'error']): void {
    for (let i = 0; i < n; i++) this.#failNext.push({ status, errors });
  }

  /** The next `n` requests have their connection destroyed without an answer. */
  dropNext(n: number): void {
    this.#dropNext += n;
  }

  clear(): void {
    this.#downUntil = 0;
    this.#sealedUntil = 0;
    this.#rateLimitedUntil = 0;
    this.#latencyMs = 0;
    this.#dropNext = 0;
    this.#failNext.length = 0;
  }

  get isDown(): boolean {
    return Date.now() < this.#downUntil;
  }

  get isSealed(): boolean {
    return Date.now() < this.#sealedUntil;
  }

  get isRateLimited(): boolean {
    return Date.now() < this.#rateLimitedUntil;
  }

  get latencyMs(): number {
    return this.#latencyMs;
  }

  takeDrop(): boolean {
    if (this.#dropNext <= 0) return false;
    this.#dropNext--;
    return true;
  }

  takeFailure(): ScriptedFailure | undefined {
    return this.#failNext.shift();
  }
}
