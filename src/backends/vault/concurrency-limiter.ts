// A bound on concurrent requests to Vault: at most `max` in flight; others wait in
// order, each at most `maxWaitMs`, and then fail (overloaded) rather than queue without
// end while Vault is slow.
import type { Timing } from './timing.js';
import { VaultRequestError } from './vault-request-error.js';

interface Waiter {
  readonly grant: (release: () => void) => void;
  readonly cancelTimer: () => void;
}

export class ConcurrencyLimiter {
  readonly #max: number;
  readonly #timing: Timing;
  readonly #queue: Waiter[] = [];
  #active = 0;

  constructor(max: number, timing: Timing) {
    this.#max = max;
    this.#timing = timing;
  }

  get active(): number {
    return this.#active;
  }

  get waiting(): number {
    return this.#queue.length;
  }

  /** Resolves with a release function once a slot is free; rejects after `maxWaitMs`. */
  acquire(maxWaitMs: number): Promise<() => void> {
    if (this.#active < this.#max) {
      this.#active++;
      return Promise.resolve(this.#releaser());
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        grant: (release) => {
          waiter.cancelTimer();
          resolve(release);
        },
        cancelTimer: this.#timing.schedule(() => {
          const i = this.#queue.indexOf(waiter);
          if (i >= 0) this.#queue.splice(i, 1);
          reject(new VaultRequestError('overloaded', `more than ${this.#max} concurrent requests to Vault; waited ${maxWaitMs} ms for a slot`));
        }, maxWaitMs),
      };
      this.#queue.push(waiter);
    });
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#queue.shift();
      if (next !== undefined) next.grant(this.#releaser());
      else this.#active--;
    };
  }
}
