// A circuit breaker in front of Vault: after `failureThreshold` consecutive failures
// (network errors, timeouts, 5xx) it opens, and for `openMs` every request fails at once
// instead of waiting for timeouts; then one probe is let through (half-open) — success
// closes it, failure opens it again. A 4xx answer counts as success: Vault is up.
import type { Timing } from './timing.js';

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerSettings {
  readonly failureThreshold: number;
  readonly openMs: number;
}

/** Permission to send one request; report how it went exactly once. */
export interface BreakerPermit {
  succeed(): void;
  fail(): void;
  /** The request was not sent after all (neither success nor failure). */
  cancel(): void;
}

export class CircuitBreaker {
  readonly #settings: CircuitBreakerSettings;
  readonly #timing: Pick<Timing, 'now'>;
  readonly #onChange: (state: BreakerState) => void;
  #state: BreakerState = 'closed';
  #failures = 0;
  #openedAt = 0;
  #probing = false;

  constructor(settings: CircuitBreakerSettings, timing: Pick<Timing, 'now'>, onChange: (state: BreakerState) => void = () => {}) {
    this.#settings = settings;
    this.#timing = timing;
    this.#onChange = onChange;
  }

  get state(): BreakerState {
    if (this.#state === 'open' && this.#timing.now() - this.#openedAt >= this.#settings.openMs) return 'half-open';
    return this.#state;
  }

  /** Milliseconds until an open breaker lets a probe through (0 when not open). */
  get retryInMs(): number {
    return this.#state === 'open' ? Math.max(0, this.#settings.openMs - (this.#timing.now() - this.#openedAt)) : 0;
  }

  /** A permit, or undefined when requests must fail fast now. */
  tryAcquire(): BreakerPermit | undefined {
    const state = this.state;
    if (state === 'open') return undefined;
    if (state === 'half-open') {
      if (this.#probing) return undefined;
      this.#probing = true;
      if (this.#state !== 'half-open') this.#set('half-open');
      return this.#permit(true);
    }
    return this.#permit(false);
  }

  #permit(probe: boolean): BreakerPermit {
    let settled = false;
    const settle = (outcome: 'success' | 'failure' | 'cancel') => {
      if (settled) return;
      settled = true;
      if (probe) this.#probing = false;
      if (outcome === 'success') this.#success();
      else if (outcome === 'failure') this.#failure(probe);
    };
    return { succeed: () => settle('success'), fail: () => settle('failure'), cancel: () => settle('cancel') };
  }

  #success(): void {
    this.#failures = 0;
    if (this.#state !== 'closed') this.#set('closed');
  }

  #failure(probe: boolean): void {
    this.#failures++;
    if (probe || this.#state === 'half-open' || (this.#state === 'closed' && this.#failures >= this.#settings.failureThreshold)) {
      this.#openedAt = this.#timing.now();
      this.#set('open');
    }
  }

  #set(state: BreakerState): void {
    const changed = this.#state !== state;
    this.#state = state;
    if (changed) this.#onChange(state);
  }
}
