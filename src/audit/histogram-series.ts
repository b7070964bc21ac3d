// One attribute set of an explicit-bucket histogram, aggregated by us rather than by the
// SDK (whose record() hashes the attribute set on every call): a count per bucket, the
// sum, count, min and max, all updated in place, so that recording allocates nothing.
// Buckets follow the SDK's rule: a boundary is the inclusive upper bound of its bucket,
// and one more bucket holds what lies above the last boundary.
import type { Attributes, HrTime } from '@opentelemetry/api';
import type { DataPoint, Histogram } from '@opentelemetry/sdk-metrics';

export class HistogramSeries {
  readonly attributes: Attributes;
  readonly #startTime: HrTime;
  readonly #boundaries: readonly number[];
  readonly #counts: Float64Array;
  #count = 0;
  #sum = 0;
  #min = Infinity;
  #max = -Infinity;

  /** `startTime`: when this series began (a cumulative point's start). */
  constructor(attributes: Attributes, boundaries: readonly number[], startTime: HrTime) {
    this.attributes = attributes;
    this.#boundaries = boundaries;
    this.#startTime = startTime;
    this.#counts = new Float64Array(boundaries.length + 1);
  }

  /** Adds one value; the caller drops NaN and negative values, as the SDK's histogram does. */
  record(value: number): void {
    this.#count += 1;
    this.#sum += value;
    if (value < this.#min) this.#min = value;
    if (value > this.#max) this.#max = value;
    this.#counts[this.#bucketOf(value)]! += 1;
  }

  /** A cumulative point: a copy of the state now, so later calls do not change what is being exported. */
  toDataPoint(endTime: HrTime): DataPoint<Histogram> {
    const hasValues = this.#count > 0;
    return {
      attributes: this.attributes,
      startTime: this.#startTime,
      endTime,
      value: {
        buckets: { boundaries: [...this.#boundaries], counts: Array.from(this.#counts) },
        sum: this.#sum,
        count: this.#count,
        min: hasValues ? this.#min : undefined,
        max: hasValues ? this.#max : undefined,
      },
    };
  }

  /** The first bucket whose boundary is at least `value` (few boundaries, small values first: a scan). */
  #bucketOf(value: number): number {
    const boundaries = this.#boundaries;
    let i = 0;
    while (i < boundaries.length && boundaries[i]! < value) i += 1;
    return i;
  }
}
