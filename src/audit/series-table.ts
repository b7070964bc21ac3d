// The series of one metric, found by up to three attribute values through nested maps, so
// that a call builds no key string and, once its series exists, allocates nothing to find
// it. The number of series is bounded: past the bound, new attribute sets share one
// overflow series (attributes `otel.metric.overflow: true`), as the SDK's cardinality
// limit does.
import type { Attributes } from '@opentelemetry/api';

const OVERFLOW_ATTRIBUTES: Attributes = Object.freeze({ 'otel.metric.overflow': true });

/**
 * Attribute sets kept apart by default: with the overflow set, 2,000 points per metric —
 * the OpenTelemetry SDK's own default cardinality limit.
 */
export const DEFAULT_MAX_SERIES = 1_999;

export class SeriesTable<A, B, C, S> {
  readonly #root = new Map<A, Map<B, Map<C, S>>>();
  readonly #attributes: (a: A, b: B, c: C) => Attributes;
  readonly #create: (attributes: Attributes) => S;
  readonly #maxSeries: number;
  #size = 0;
  #overflow: S | undefined;

  /**
   * @param attributes the attribute set of (a, b, c), built once, when the set is first seen
   * @param create a new series for an attribute set (the overflow set included)
   * @param maxSeries attribute sets kept apart; later ones share the overflow series
   */
  constructor(attributes: (a: A, b: B, c: C) => Attributes, create: (attributes: Attributes) => S, maxSeries: number) {
    this.#attributes = attributes;
    this.#create = create;
    this.#maxSeries = maxSeries;
  }

  /** The series of (a, b, c): made the first time, or the overflow series once the table is full. */
  get(a: A, b: B, c: C): S {
    return this.#root.get(a)?.get(b)?.get(c) ?? this.#add(a, b, c);
  }

  /** Every series, the overflow one (if any) last. */
  forEach(visit: (series: S) => void): void {
    for (const byB of this.#root.values()) for (const byC of byB.values()) for (const series of byC.values()) visit(series);
    if (this.#overflow !== undefined) visit(this.#overflow);
  }

  #add(a: A, b: B, c: C): S {
    if (this.#size >= this.#maxSeries) return (this.#overflow ??= this.#create(OVERFLOW_ATTRIBUTES));
    const series = this.#create(this.#attributes(a, b, c));
    let byB = this.#root.get(a);
    if (byB === undefined) this.#root.set(a, (byB = new Map()));
    let byC = byB.get(b);
    if (byC === undefined) byB.set(b, (byC = new Map()));
    byC.set(c, series);
    this.#size += 1;
    return series;
  }
}
