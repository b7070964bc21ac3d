// What the test OTLP receivers collected: every decoded export request, flattened into
// spans and metrics with their resource and scope and plain-JS attributes, the raw
// request bodies (for scans that look for leaked secrets in what left the process), and
// waits with a timeout for what a test expects to arrive.
import type { ExportMetricsServiceRequest } from './gen/opentelemetry/proto/collector/metrics/v1/metrics_service_pb.js';
import type { ExportTraceServiceRequest } from './gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.js';
import { AggregationTemporality, type Metric } from './gen/opentelemetry/proto/metrics/v1/metrics_pb.js';
import { Span_SpanKind, Status_StatusCode, type Span } from './gen/opentelemetry/proto/trace/v1/trace_pb.js';
import { otlpAttributes, otlpId, type OtlpValue } from './otlp-values.js';

export type OtlpTransport = 'http' | 'grpc';
type Attributes = Record<string, OtlpValue>;

export interface ReceivedScope {
  readonly name: string;
  readonly version: string;
  readonly attributes: Attributes;
}

export interface ReceivedSpan {
  readonly name: string;
  /** 32 lowercase hex digits. */
  readonly traceId: string;
  /** 16 lowercase hex digits. */
  readonly spanId: string;
  /** '' for a root span. */
  readonly parentSpanId: string;
  readonly traceState: string;
  readonly kind: keyof typeof Span_SpanKind;
  readonly startTimeUnixNano: bigint;
  readonly endTimeUnixNano: bigint;
  readonly attributes: Attributes;
  readonly events: readonly { readonly name: string; readonly timeUnixNano: bigint; readonly attributes: Attributes }[];
  readonly links: readonly { readonly traceId: string; readonly spanId: string; readonly attributes: Attributes }[];
  readonly status: { readonly code: keyof typeof Status_StatusCode; readonly message: string };
  readonly resource: Attributes;
  readonly scope: ReceivedScope;
  readonly transport: OtlpTransport;
  /** The decoded protobuf message, for anything the flat view leaves out. */
  readonly raw: Span;
}

export interface ReceivedDataPoint {
  readonly attributes: Attributes;
  readonly startTimeUnixNano: bigint;
  readonly timeUnixNano: bigint;
  /** Gauge and sum points: the value (an int64 as number when safe). */
  readonly value?: number | bigint;
  /** Histogram points. */
  readonly count?: bigint;
  readonly sum?: number;
  readonly bucketCounts?: readonly bigint[];
  readonly explicitBounds?: readonly number[];
}

export interface ReceivedMetric {
  readonly name: string;
  readonly description: string;
  readonly unit: string;
  readonly type: NonNullable<Metric['data']['case']> | 'none';
  /** Sums and histograms. */
  readonly temporality?: keyof typeof AggregationTemporality;
  /** Sums. */
  readonly isMonotonic?: boolean;
  readonly dataPoints: readonly ReceivedDataPoint[];
  readonly resource: Attributes;
  readonly scope: ReceivedScope;
  readonly transport: OtlpTransport;
  readonly raw: Metric;
}

/** One export request as it came in. */
export interface ReceivedRequest {
  readonly signal: 'traces' | 'metrics';
  readonly transport: OtlpTransport;
  /** HTTP headers or gRPC metadata (lowercase names; values joined with ", "). */
  readonly headers: Readonly<Record<string, string>>;
  /** The protobuf body as received (after gzip decoding). */
  readonly body: Uint8Array;
}

interface Waiter {
  check(): boolean;
}

export class OtlpStore {
  readonly spans: ReceivedSpan[] = [];
  readonly metrics: ReceivedMetric[] = [];
  readonly requests: ReceivedRequest[] = [];
  #waiters = new Set<Waiter>();

  addTraces(request: ExportTraceServiceRequest, received: Omit<ReceivedRequest, 'signal'>): void {
    this.requests.push({ ...received, signal: 'traces' });
    for (const rs of request.resourceSpans) {
      const resource = otlpAttributes(rs.resource?.attributes ?? []);
      for (const ss of rs.scopeSpans) {
        const scope = scopeOf(ss.scope);
        for (const span of ss.spans) {
          this.spans.push({
            name: span.name,
            traceId: otlpId(span.traceId),
            spanId: otlpId(span.spanId),
            parentSpanId: otlpId(span.parentSpanId),
            traceState: span.traceState,
            kind: Span_SpanKind[span.kind] as keyof typeof Span_SpanKind,
            startTimeUnixNano: span.startTimeUnixNano,
            endTimeUnixNano: span.endTimeUnixNano,
            attributes: otlpAttributes(span.attributes),
            events: span.events.map((e) => ({ name: e.name, timeUnixNano: e.timeUnixNano, attributes: otlpAttributes(e.attributes) })),
            links: span.links.map((l) => ({ traceId: otlpId(l.traceId), spanId: otlpId(l.spanId), attributes: otlpAttributes(l.attributes) })),
            status: { code: Status_StatusCode[span.status?.code ?? Status_StatusCode.UNSET] as keyof typeof Status_StatusCode, message: span.status?.message ?? '' },
            resource,
            scope,
            transport: received.transport,
            raw: span,
          });
        }
      }
    }
    this.#notify();
  }

  addMetrics(request: ExportMetricsServiceRequest, received: Omit<ReceivedRequest, 'signal'>): void {
    this.requests.push({ ...received, signal: 'metrics' });
    for (const rm of request.resourceMetrics) {
      const resource = otlpAttributes(rm.resource?.attributes ?? []);
      for (const sm of rm.scopeMetrics) {
        const scope = scopeOf(sm.scope);
        for (const metric of sm.metrics) this.metrics.push({ ...flattenMetric(metric), resource, scope, transport: received.transport, raw: metric });
      }
    }
    this.#notify();
  }

  /**
   * Resolves with every received span that matches, once at least `minCount` do; rejects
   * after `timeoutMs` with the names of what did arrive.
   */
  waitForSpans(predicate: (span: ReceivedSpan) => boolean, timeoutMs = 10_000, minCount = 1): Promise<ReceivedSpan[]> {
    return this.#waitFor(() => this.spans.filter(predicate), timeoutMs, minCount, () => `spans received: ${this.spans.map((s) => s.name).join(', ') || 'none'}`);
  }

  /** As waitForSpans, for metrics (each export of a metric is one entry). */
  waitForMetrics(predicate: (metric: ReceivedMetric) => boolean, timeoutMs = 10_000, minCount = 1): Promise<ReceivedMetric[]> {
    return this.#waitFor(
      () => this.metrics.filter(predicate),
      timeoutMs,
      minCount,
      () => `metrics received: ${[...new Set(this.metrics.map((m) => m.name))].join(', ') || 'none'}`,
    );
  }

  /** Forgets everything received so far. */
  clear(): void {
    this.spans.length = 0;
    this.metrics.length = 0;
    this.requests.length = 0;
  }

  #waitFor<T>(select: () => T[], timeoutMs: number, minCount: number, describe: () => string): Promise<T[]> {
    return new Promise<T[]>((resolve, reject) => {
      const waiter: Waiter = {
        check: () => {
          const found = select();
          if (found.length < minCount) return false;
          clearTimeout(timer);
          this.#waiters.delete(waiter);
          resolve(found);
          return true;
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${minCount} match(es); ${describe()}`));
      }, timeoutMs);
      if (!waiter.check()) this.#waiters.add(waiter);
    });
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) waiter.check();
  }
}

function scopeOf(scope: { name: string; version: string; attributes: Parameters<typeof otlpAttributes>[0] } | undefined): ReceivedScope {
  return { name: scope?.name ?? '', version: scope?.version ?? '', attributes: otlpAttributes(scope?.attributes ?? []) };
}

function numberValue(v: { case: 'asDouble'; value: number } | { case: 'asInt'; value: bigint } | { case: undefined; value?: undefined }): number | bigint | undefined {
  if (v.case === 'asInt') return v.value >= BigInt(Number.MIN_SAFE_INTEGER) && v.value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v.value) : v.value;
  return v.value;
}

function flattenMetric(metric: Metric): Omit<ReceivedMetric, 'resource' | 'scope' | 'transport' | 'raw'> {
  const base = { name: metric.name, description: metric.description, unit: metric.unit };
  const temporality = (t: AggregationTemporality) => AggregationTemporality[t] as keyof typeof AggregationTemporality;
  const data = metric.data;
  switch (data.case) {
    case 'gauge':
    case 'sum': {
      const dataPoints = data.value.dataPoints.map((p) => ({
        attributes: otlpAttributes(p.attributes),
        startTimeUnixNano: p.startTimeUnixNano,
        timeUnixNano: p.timeUnixNano,
        value: numberValue(p.value),
      }));
      return data.case === 'sum'
        ? { ...base, type: 'sum', temporality: temporality(data.value.aggregationTemporality), isMonotonic: data.value.isMonotonic, dataPoints }
        : { ...base, type: 'gauge', dataPoints };
    }
    case 'histogram':
      return {
        ...base,
        type: 'histogram',
        temporality: temporality(data.value.aggregationTemporality),
        dataPoints: data.value.dataPoints.map((p) => ({
          attributes: otlpAttributes(p.attributes),
          startTimeUnixNano: p.startTimeUnixNano,
          timeUnixNano: p.timeUnixNano,
          count: p.count,
          ...(p.sum === undefined ? {} : { sum: p.sum }),
          bucketCounts: p.bucketCounts,
          explicitBounds: p.explicitBounds,
        })),
      };
    case 'exponentialHistogram':
    case 'summary':
      return {
        ...base,
        type: data.case,
        dataPoints: data.value.dataPoints.map((p) => ({
          attributes: otlpAttributes(p.attributes),
          startTimeUnixNano: p.startTimeUnixNano,
          timeUnixNano: p.timeUnixNano,
          count: p.count,
          ...(p.sum === undefined ? {} : { sum: p.sum }),
        })),
      };
    default:
      return { ...base, type: 'none', dataPoints: [] };
  }
}
