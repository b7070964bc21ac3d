// Call counters kept as plain numbers on the call path and handed to OpenTelemetry only
// when metrics are collected (an observable counter). An SDK counter's add() hashes
// its attribute set on every call; here a call costs up to three map lookups by the
// attribute values themselves (no key string, no closure), and its attribute set is
// built once, the first time it is seen. The number of attribute sets is bounded: past
// the limit, new sets are counted under one overflow set, as the SDK's own cardinality
// limit does.
import type { Attributes, Meter } from '@opentelemetry/api';
import { DEFAULT_MAX_SERIES, SeriesTable } from './series-table.js';

interface Tally {
  readonly attributes: Attributes;
  count: number;
}

export class CounterTally<A, B, C = ''> {
  readonly #tallies: SeriesTable<A, B, C, Tally>;

  /** `attributes` builds the attribute set of (a, b, c) the first time it is counted. */
  constructor(meter: Meter, name: string, description: string, attributes: (a: A, b: B, c: C) => Attributes, maxSets = DEFAULT_MAX_SERIES) {
    this.#tallies = new SeriesTable(attributes, (set) => ({ attributes: set, count: 0 }), maxSets);
    meter.createObservableCounter(name, { description }).addCallback((result) => {
      this.#tallies.forEach((tally) => result.observe(tally.count, tally.attributes));
    });
  }

  /** Adds `by` (default 1) to the count of (a, b, c). */
  increment(a: A, b: B, c: C, by = 1): void {
    this.#tallies.get(a, b, c).count += by;
  }
}
