// Builds the OpenTelemetry tracer provider the daemon exports its call spans with:
// OTLP over gRPC (TCP or a Unix socket to a node-local collector) or HTTP/protobuf,
// batched so a span leaves within the configured interval, with a bounded queue so a
// collector outage never blocks or grows the daemon.
import { OTLPExporterBase } from '@opentelemetry/otlp-exporter-base';
import { convertLegacyHttpOptions, createOtlpHttpExportDelegate } from '@opentelemetry/otlp-exporter-base/node-http';
import { convertLegacyOtlpGrpcOptions, createOtlpGrpcExportDelegate } from '@opentelemetry/otlp-grpc-exporter-base';
import { TraceExporterMetricsHelper } from '@opentelemetry/otlp-transformer';
import { defaultResource, resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { hostname } from 'node:os';
import { grpcExporterOptions, httpExporterOptions, type OtlpConnection } from './otlp-connection.js';
import { encodedTraceSerializer } from './encoded-trace-serializer.js';
import { CallSpanQueue } from './call-span-queue.js';
import { BoundedSpanProcessor, CountingSpanExporter, SpanExportStats } from './span-export-accounting.js';

/** Spans per export request at most; also the call span queue's batch size. */
const MAX_EXPORT_BATCH = 512;
/** An export not answered within this is given up: with the interval, a span leaves within 5 s. */
const EXPORT_TIMEOUT_MS = 4_000;

export interface TraceExportSettings {
  readonly protocol: 'grpc' | 'http';
  readonly endpoint: string;
  readonly exportIntervalMs: number;
  readonly maxQueueSize: number;
  readonly connection?: OtlpConnection;
}

/** The OTLP trace exporter over HTTP/protobuf or gRPC, as @opentelemetry/exporter-trace-otlp-* builds it, with our serializer (pre-encoded call spans). */
function exporterFor(settings: TraceExportSettings, resource: Resource, serviceVersion: string): SpanExporter {
  const serializer = encodedTraceSerializer(resource, { name: 'keyward', version: serviceVersion });
  if (settings.protocol === 'http') {
    const options = convertLegacyHttpOptions({ ...httpExporterOptions(settings.endpoint, settings.connection), timeoutMillis: EXPORT_TIMEOUT_MS }, 'TRACES', 'v1/traces', { 'Content-Type': 'application/x-protobuf' });
    return new OTLPExporterBase<ReadableSpan[]>(createOtlpHttpExportDelegate(options, serializer, 'otlp_http_span_exporter', TraceExporterMetricsHelper, undefined));
  }
  const options = convertLegacyOtlpGrpcOptions({ ...grpcExporterOptions(settings.endpoint, settings.connection), timeoutMillis: EXPORT_TIMEOUT_MS }, 'TRACES');
  return new OTLPExporterBase<ReadableSpan[]>(
    createOtlpGrpcExportDelegate(options, serializer, 'otlp_grpc_span_exporter', TraceExporterMetricsHelper, undefined, 'TraceExportService', '/opentelemetry.proto.collector.trace.v1.TraceService/Export'),
  );
}

export interface TracerSetup {
  readonly provider: TracerProvider;
  readonly stats: SpanExportStats;
  /** Where call spans are encoded and batched, for the same bounded export as SDK spans. */
  readonly callSpans: CallSpanQueue;
  readonly resource: Resource;
}

export function createTracerProvider(settings: TraceExportSettings, serviceVersion: string): TracerSetup {
  const stats = new SpanExportStats();
  const resource = defaultResource().merge(
    resourceFromAttributes({
      [ATTR_SERVICE_NAME]: 'keyward',
      [ATTR_SERVICE_VERSION]: serviceVersion,
      'host.name': hostname(),
    }),
  );
  const exporter = new CountingSpanExporter(exporterFor(settings, resource, serviceVersion), stats);
  const maxBatch = Math.min(MAX_EXPORT_BATCH, settings.maxQueueSize);
  const batcher = new BatchSpanProcessor({
    exporter,
    scheduledDelayMillis: settings.exportIntervalMs,
    maxQueueSize: settings.maxQueueSize,
    maxExportBatchSize: maxBatch,
    // A span leaves within 5 s of ending or is given up (policy: SIEM within 1 minute).
    exportTimeoutMillis: EXPORT_TIMEOUT_MS,
  });
  const callSpans = new CallSpanQueue({ exporter, stats, maxQueueSize: settings.maxQueueSize, maxBatchSpans: maxBatch, exportIntervalMs: settings.exportIntervalMs });
  const processor = new BoundedSpanProcessor(batcher, stats, settings.maxQueueSize, callSpans);
  const provider = new TracerProvider({ resource, spanProcessors: [processor] });
  return { provider, stats, callSpans, resource };
}
