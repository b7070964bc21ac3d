// Call counters kept as plain numbers on the call path and handed to OpenTelemetry only
// when metrics are collected (an observable counter). An SDK counter's add() hashes
// its attribute set on every call; here a call costs one map lookup by a string key.
// The number of attribute sets is bounded: past the limit, new sets are counted under
// one overflow set, as the SDK's own cardinality limit does.
import type { Attributes, Meter } from '@opentelemetry/api';

interface Tally {
  readonly attributes: Attributes;
  count: number;
}

const OVERFLOW: Attributes = { 'otel.metric.overflow': true };

export class CounterTally {
  readonly #tallies = new Map<string, Tally>();
  readonly #maxSets: number;
  #overflow = 0;

  constructor(meter: Meter, name: string, description: string, maxSets = 2_000) {
    this.#maxSets = maxSets;
    meter.createObservableCounter(name, { description }).addCallback((result) => {
      for (const tally of this.#tallies.values()) result.observe(tally.count, tally.attributes);
      if (this.#overflow > 0) result.observe(this.#overflow, OVERFLOW);
    });
  }

  /** Adds `by` (default 1) under `key`; `attributes` is called only the first time the key is seen. */
  increment(key: string, attributes: () => Attributes, by = 1): void {
    const tally = this.#tallies.get(key);
    if (tally !== undefined) {
      tally.count += by;
      return;
    }
    if (this.#tallies.size >= this.#maxSets) {
      this.#overflow += by;
      return;
    }
    this.#tallies.set(key, { attributes: attributes(), count: by });
  }
}
