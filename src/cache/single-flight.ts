// Coalesces concurrent loads of the same cache key into one backend call, so a cold
// cache under load costs one wrap or unwrap per key, not one per caller.

export class SingleFlight<T> {
  readonly #pending = new Map<string, Promise<T>>();

  /** Runs `load` for `key` unless a load for it is already under way; shares its result. */
  run(key: string, load: () => Promise<T>): Promise<T> {
    const pending = this.#pending.get(key);
    if (pending) return pending;
    const started = load().finally(() => this.#pending.delete(key));
    this.#pending.set(key, started);
    return started;
  }

  get size(): number {
    return this.#pending.size;
  }
}
