// keyward.rpc.duration, the latency of every call, aggregated here and handed to
// OpenTelemetry only when a reader collects: a MetricProducer that every metric reader
// (OTLP and Prometheus) is given. An SDK histogram's record() sorts and stringifies the
// attribute set on every call, which under load cost more than the rest of the call's
// metrics; here a call costs two map lookups and a few additions, and allocates nothing.
// What a collector receives is what the SDK histogram sent: same name, description,
// unit, attributes, bucket boundaries, cumulative temporality, a series' start time set
// when it is first recorded, and the SDK's cardinality limit (2 000 sets, overflow included).
import { ValueType } from '@opentelemetry/api';
import { millisToHrTime, type InstrumentationScope } from '@opentelemetry/core';
import { emptyResource } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  DataPointType,
  type CollectionResult,
  type HistogramMetricData,
  type MetricDescriptor,
  type MetricProducer,
} from '@opentelemetry/sdk-metrics';
import { CALL_DURATION, type DurationRecorder } from './call-duration-metric.js';
import { HistogramSeries } from './histogram-series.js';
import { DEFAULT_MAX_SERIES, SeriesTable } from './series-table.js';

const DESCRIPTOR: MetricDescriptor = Object.freeze({
  name: CALL_DURATION.name,
  description: CALL_DURATION.description,
  unit: CALL_DURATION.unit,
  valueType: ValueType.DOUBLE,
});


export class CallDurationHistogram implements MetricProducer, DurationRecorder {
  readonly #scope: InstrumentationScope;
  readonly #series: SeriesTable<string, string, '', HistogramSeries>;

  /** `scopeVersion`: the version of the 'keyward' meter, i.e. the daemon's. */
  constructor(scopeVersion: string, maxSeries = DEFAULT_MAX_SERIES) {
    this.#scope = { name: 'keyward', version: scopeVersion };
    this.#series = new SeriesTable(
      CALL_DURATION.attributes,
      (attributes) => new HistogramSeries(attributes, CALL_DURATION.boundariesMs, millisToHrTime(Date.now())),
      maxSeries,
    );
  }

  record(method: string, outcome: string, ms: number): void {
    if (!(ms >= 0)) return; // NaN or negative: the SDK's histogram drops them too
    this.#series.get(method, outcome, '').record(ms);
  }

  async collect(): Promise<CollectionResult> {
    const endTime = millisToHrTime(Date.now());
    const dataPoints: HistogramMetricData['dataPoints'] = [];
    this.#series.forEach((series) => dataPoints.push(series.toDataPoint(endTime)));
    // Like the SDK, a histogram nothing was recorded in is not exported at all.
    const scopeMetrics = dataPoints.length === 0 ? [] : [{ scope: this.#scope, metrics: [this.#metric(dataPoints)] }];
    // The resource is ignored: the reader uses the meter provider's.
    return { resourceMetrics: { resource: emptyResource(), scopeMetrics }, errors: [] };
  }

  #metric(dataPoints: HistogramMetricData['dataPoints']): HistogramMetricData {
    return {
      descriptor: DESCRIPTOR,
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.HISTOGRAM,
      dataPoints,
    };
  }
}
