// Runs a poll of the Vault keys' metadata every interval (slightly less, at random, so
// many hosts do not poll in step), one poll at a time, never throwing: how the backend
// notices rotations and min_decryption_version changes made in Vault, so that disabled
// versions stop decrypting and their cached DEKs are purged within one interval.
import type { Timing } from './timing.js';

/** Up to this fraction of the interval is taken off at random. */
const JITTER = 0.1;

export class KeyVersionPoller {
  readonly #intervalMs: number;
  readonly #timing: Timing;
  readonly #poll: () => Promise<void>;
  #cancel: (() => void) | undefined;
  #running = false;

  constructor(intervalMs: number, timing: Timing, poll: () => Promise<void>) {
    this.#intervalMs = intervalMs;
    this.#timing = timing;
    this.#poll = poll;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#next();
  }

  #next(): void {
    if (!this.#running) return;
    const delay = this.#intervalMs * (1 - JITTER * this.#timing.random());
    this.#cancel = this.#timing.schedule(() => {
      this.#poll()
        .catch(() => undefined)
        .finally(() => this.#next());
    }, delay);
  }

  stop(): void {
    this.#running = false;
    this.#cancel?.();
    this.#cancel = undefined;
  }
}
